//! `--redact`: every identifier and personal datum (accounts, principal and session names, key
//! IDs, aliases, event IDs, IP addresses, user agents, e-mail addresses, organisation, VPC and
//! endpoint IDs, condition values) becomes a stable pseudonym, the same across one output, in
//! every format and in a redacted evidence file.
//!
//! Redaction is a transformation of the data, before rendering, in two passes over every string
//! the data holds: the first learns the names (from ARNs, and from the fields known to hold a
//! name, an address, an agent or a condition value), the second rewrites. Values have every
//! learned name replaced wherever it stands as a whole token; kms-doctor's own prose only has
//! patterns replaced (ARNs, account, key and unique IDs, addresses), so that a role named `key`
//! cannot garble a sentence. Escaping and colour, applied later, are never touched.

pub use crate::diagnosis::model::{Kind, Redact};

/// A redacted copy, with pseudonyms of its own.
pub fn redacted<T: Redact + Clone>(data: &T) -> T {
    Redactor::default().apply(data)
}
use std::collections::{HashMap, HashSet};

/// Pseudonyms for one output.
#[derive(Default)]
pub struct Redactor {
    /// original → pseudonym, whatever the kind it was first met as.
    names: HashMap<String, String>,
    counters: HashMap<&'static str, usize>,
    /// Pseudonyms handed out, which must not be redacted again.
    produced: HashSet<String>,
    /// Names learned from values, replaced wherever they stand as a token in a value.
    learned: Vec<String>,
    /// Every word of the data (`reserve`): no pseudonym is one of them, so that an identifier
    /// shaped like a pseudonym (a role named `role-1`) is never taken for one already made,
    /// and never shares one with another identifier.
    taken: HashSet<String>,
}

impl Redactor {
    fn pseudonym(&mut self, kind: &'static str, original: &str) -> String {
        if self.produced.contains(original) {
            return original.to_owned();
        }
        if let Some(p) = self.names.get(original) {
            return p.clone();
        }
        let n = self.counters.entry(kind).or_insert(0);
        let p = loop {
            *n += 1;
            let p = match kind {
                // Twelve digits, so that redacted ARNs still read as ARNs.
                "account" => format!("{:012}", *n),
                "uid" => format!("AIDAREDACTED{:08}", *n),
                "ip" => format!("192.0.2.{}", *n % 256),
                "email" => format!("user-{}@example.invalid", *n),
                other => format!("{other}-{}", *n),
            };
            if !self.taken.contains(&p) && !self.produced.contains(&p) {
                break p;
            }
        };
        self.names.insert(original.to_owned(), p.clone());
        self.produced.insert(p.clone());
        p
    }

    /// Learns the names `data` holds, before anything of the run is rewritten: every output
    /// of one run (report, `-v` call list, saved evidence) then uses the same pseudonyms.
    pub fn learn_from<T: Redact + Clone>(&mut self, data: &T) {
        self.reserve(data);
        let mut copy = data.clone();
        copy.strings(&mut |s, kind| self.learn(s, kind));
    }

    /// Takes note of every word `data` holds, which no pseudonym may be; every output of a run
    /// is reserved before any is learned.
    pub fn reserve<T: Redact + Clone>(&mut self, data: &T) {
        let mut copy = data.clone();
        copy.strings(&mut |s, _| self.reserve_words(s));
    }

    fn reserve_words(&mut self, text: &str) {
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || "-_.@".contains(c))) {
            if !word.is_empty() && !self.taken.contains(word) {
                self.taken.insert(word.to_owned());
            }
        }
    }

    /// A redacted copy with this run's pseudonyms (learning what `data` holds first; a name
    /// learned only later is not replaced in what was already rewritten, hence `learn_from`).
    pub fn apply<T: Redact + Clone>(&mut self, data: &T) -> T {
        self.learn_from(data);
        let mut copy = data.clone();
        copy.strings(&mut |s, kind| self.rewrite(s, kind));
        copy
    }

    /// Learns a name that values will have replaced.
    fn remember(&mut self, kind: &'static str, original: &str) {
        if original.is_empty() || self.produced.contains(original) {
            return;
        }
        self.pseudonym(kind, original);
        // A name of one or two characters (a Sid `S1`) is rewritten where it is a field of its
        // own, but not hunted for in other values, where it would garble words and numbers.
        if original.chars().count() >= 3 && !self.learned.iter().any(|l| l == original) {
            self.learned.push(original.to_owned());
        }
    }

    /// The first pass: names, from ARNs and from named fields.
    pub fn learn(&mut self, s: &str, kind: Kind) {
        match kind {
            Kind::Named(k) => self.remember(k, s),
            Kind::Value => {
                let _ = self.redact_patterns(s, true);
            }
            Kind::Prose => {}
        }
    }

    /// The second pass.
    pub fn rewrite(&mut self, s: &mut String, kind: Kind) {
        let out = match kind {
            Kind::Named(k) => self.pseudonym(k, s),
            Kind::Value => {
                let patterned = self.redact_patterns(s, false);
                self.replace_learned(&patterned)
            }
            Kind::Prose => self.redact_patterns(s, false),
        };
        if out != *s {
            *s = out;
        }
    }

    /// Redacts one string by its patterns alone (ARNs, IDs, addresses); used by tests and for
    /// text with no structure.
    pub fn redact(&mut self, text: &str) -> String {
        self.reserve_words(text);
        self.redact_patterns(text, false)
    }

    fn redact_patterns(&mut self, text: &str, learning: bool) -> String {
        let text = self.redact_arns(text, learning);
        let text = self.redact_tokens(&text, learning);
        self.redact_bare(&text)
    }

    /// Every learned name, as a whole token (not inside a longer word), longest first.
    fn replace_learned(&mut self, text: &str) -> String {
        let mut names: Vec<String> = self
            .learned
            .iter()
            .filter(|n| text.contains(n.as_str()))
            .cloned()
            .collect();
        if names.is_empty() {
            return text.to_owned();
        }
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        let mut out = text.to_owned();
        for name in names {
            let pseudonym = self.names[&name].clone();
            out = replace_token(&out, &name, &pseudonym);
        }
        out
    }

    fn redact_arns(&mut self, text: &str, learning: bool) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find("arn:") {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| c.is_whitespace() || "\"'`,;)]}|<>\\".contains(c))
                .unwrap_or(tail.len());
            out.push_str(&self.redact_arn(&tail[..end], learning));
            rest = &tail[end..];
        }
        out.push_str(rest);
        out
    }

    fn redact_arn(&mut self, arn: &str, learning: bool) -> String {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        // AWS's own resources (`arn:aws:iam::aws:policy/ReadOnlyAccess`) name no one.
        if parts.len() < 6 || parts[4] == "aws" {
            return arn.to_owned();
        }
        let account = if parts[4].len() == 12 && parts[4].bytes().all(|b| b.is_ascii_digit()) {
            self.pseudonym("account", parts[4])
        } else {
            parts[4].to_owned()
        };
        let name = |r: &mut Self, kind: &'static str, n: &str| {
            // A wildcard (`key/*`, `role/*`) names no one, and must stay one.
            if n.bytes().all(|b| b == b'*' || b == b'?') {
                return n.to_owned();
            }
            if learning {
                r.remember(kind, n);
            }
            r.pseudonym(kind, n)
        };
        let resource = parts[5];
        let resource = if let Some(r) = resource.strip_prefix("assumed-role/") {
            match r.split_once('/') {
                Some((role, session)) => format!(
                    "assumed-role/{}/{}",
                    name(self, "role", role),
                    name(self, "session", session)
                ),
                None => format!("assumed-role/{}", name(self, "role", r)),
            }
        } else if let Some((prefix, kind, r)) = [
            ("role/", "role"),
            ("user/", "user"),
            ("group/", "group"),
            ("policy/", "policy"),
            ("saml-provider/", "provider"),
            ("oidc-provider/", "provider"),
        ]
        .iter()
        .find_map(|(p, k)| resource.strip_prefix(p).map(|r| (&p[..p.len() - 1], *k, r)))
        {
            match r.rsplit_once('/') {
                Some((path, n)) => {
                    let path: Vec<String> = path
                        .split('/')
                        .map(|segment| {
                            // AWS's own paths say what a role is; they identify no one.
                            if segment.is_empty()
                                || segment.starts_with("aws-")
                                || segment == "service-role"
                                || segment.ends_with(".amazonaws.com")
                            {
                                segment.to_owned()
                            } else {
                                name(self, "path", segment)
                            }
                        })
                        .collect();
                    format!("{prefix}/{}/{}", path.join("/"), name(self, kind, n))
                }
                None => format!("{prefix}/{}", name(self, kind, r)),
            }
        } else if let Some(r) = resource.strip_prefix("federated-user/") {
            format!("federated-user/{}", name(self, "user", r))
        } else if let Some(r) = resource.strip_prefix("key/") {
            format!("key/{}", name(self, "key", r))
        } else if let Some(r) = resource.strip_prefix("alias/") {
            format!("alias/{}", name(self, "alias", r))
        } else {
            resource.to_owned()
        };
        format!(
            "{}:{}:{}:{}:{account}:{resource}",
            parts[0], parts[1], parts[2], parts[3]
        )
    }

    /// Tokens with punctuation: e-mail addresses, IPv4 and IPv6 addresses (and CIDR blocks),
    /// bare aliases (`alias/payments`).
    fn redact_tokens(&mut self, text: &str, learning: bool) -> String {
        let is_token = |c: char| c.is_ascii_alphanumeric() || "._%+-@:/".contains(c);
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(is_token) {
            out.push_str(&rest[..start]);
            let tail = &rest[start..];
            let end = tail.find(|c: char| !is_token(c)).unwrap_or(tail.len());
            let token = &tail[..end];
            out.push_str(&self.token(token, learning));
            rest = &tail[end..];
        }
        out.push_str(rest);
        out
    }

    fn token(&mut self, token: &str, learning: bool) -> String {
        if self.produced.contains(token) || token.starts_with("arn:") {
            return token.to_owned();
        }
        if let Some(name) = token.strip_prefix("alias/").filter(|n| !n.is_empty()) {
            if learning {
                self.remember("alias", name);
            }
            return format!("alias/{}", self.pseudonym("alias", name));
        }
        let (address, suffix) = match token.rsplit_once('/') {
            Some((a, bits)) if bits.bytes().all(|b| b.is_ascii_digit()) && !bits.is_empty() => {
                (a, &token[a.len()..])
            }
            _ => (token, ""),
        };
        if address.parse::<std::net::IpAddr>().is_ok() {
            return format!("{}{suffix}", self.pseudonym("ip", address));
        }
        if let Some((user, domain)) = token.split_once('@')
            && !user.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
        {
            return self.pseudonym("email", token);
        }
        token.to_owned()
    }

    /// Account IDs, key IDs (UUIDs, `mrk-…`), unique IDs (and the session after one, as in
    /// `aws:userid`), organisation, VPC and endpoint IDs outside ARNs.
    fn redact_bare(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut after_unique_id = false;
        while i < bytes.len() {
            let at_word_start = i == 0 || !is_word(bytes[i - 1]);
            if at_word_start && is_word(bytes[i]) {
                let end = (i..bytes.len())
                    .find(|&j| !is_word(bytes[j]))
                    .unwrap_or(bytes.len());
                let word = &text[i..end];
                let replaced = if after_unique_id {
                    Some(self.pseudonym("session", word))
                } else {
                    self.bare_word(word)
                };
                after_unique_id =
                    crate::policy::is_unique_id(word) && bytes.get(end) == Some(&b':');
                match replaced {
                    Some(r) => out.push_str(&r),
                    None => out.push_str(word),
                }
                i = end;
                continue;
            }
            if bytes[i] != b':' {
                after_unique_id = false;
            }
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
        out
    }

    fn bare_word(&mut self, word: &str) -> Option<String> {
        if self.produced.contains(word) {
            return None;
        }
        if word.len() == 12 && word.bytes().all(|b| b.is_ascii_digit()) {
            return Some(self.pseudonym("account", word));
        }
        if is_uuid(word) {
            // An event ID learned as such keeps its name; other UUIDs are key IDs.
            return Some(self.pseudonym("key", word));
        }
        if word.starts_with("mrk-") && word.len() == 36 {
            return Some(self.pseudonym("key", word));
        }
        if crate::policy::is_unique_id(word) {
            return Some(self.pseudonym("uid", word));
        }
        for (prefix, kind) in [
            ("o-", "org"),
            ("ou-", "ou"),
            ("r-", "root"),
            ("vpc-", "vpc"),
            ("vpce-", "vpce"),
        ] {
            if let Some(id) = word.strip_prefix(prefix)
                && id.len() >= 4
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Some(self.pseudonym(kind, word));
            }
        }
        None
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Replaces `name` where it stands as a token: not preceded or followed by a word character.
fn replace_token(text: &str, name: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(name) {
        let before = rest[..i].bytes().last();
        let after = rest.as_bytes().get(i + name.len()).copied();
        let bounded = |b: Option<u8>| b.is_none_or(|b| !is_word(b));
        out.push_str(&rest[..i]);
        if bounded(before) && bounded(after) {
            out.push_str(with);
        } else {
            out.push_str(name);
        }
        rest = &rest[i + name.len()..];
    }
    out.push_str(rest);
    out
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_within_one_output() {
        let mut r = Redactor::default();
        let out = r.redact(
            "arn:aws:sts::111122223333:assumed-role/Admin/alice and arn:aws:iam::111122223333:role/ops/Admin \
             key arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab (1234abcd-12ab-34cd-56ef-1234567890ab) \
             account 111122223333, other 444455556666, orphan AROAZ3EXAMPLEADMIN01",
        );
        assert_eq!(
            out,
            "arn:aws:sts::000000000001:assumed-role/role-1/session-1 and arn:aws:iam::000000000001:role/path-1/role-1 \
             key arn:aws:kms:us-east-1:000000000001:key/key-1 (key-1) \
             account 000000000001, other 000000000002, orphan AIDAREDACTED00000001"
        );
    }

    #[test]
    fn words_that_merely_contain_names_are_kept() {
        let mut r = Redactor::default();
        let out = r
            .redact("\"Allow access for Key Administrators\" arn:aws:iam::111122223333:role/Admin");
        assert!(
            out.starts_with("\"Allow access for Key Administrators\""),
            "{out}"
        );
    }

    #[test]
    fn addresses_org_ids_aliases_and_sessions_after_unique_ids() {
        let mut r = Redactor::default();
        let out = r.redact(
            "from 203.0.113.24 in 198.51.100.0/24 and 2001:db8::1, alice@example.com, o-a1b2c3d4e5, \
             vpce-0123456789abcdef0, alias/payments, AROAEXAMPLEADMIN0001:alice",
        );
        for secret in [
            "203.0.113.24",
            "198.51.100.0",
            "2001:db8::1",
            "alice",
            "example.com",
            "a1b2c3d4e5",
            "0123456789abcdef0",
            "payments",
            "AROAEXAMPLEADMIN0001",
        ] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains("/24"), "the prefix length is kept: {out}");
    }

    #[test]
    fn learned_names_are_replaced_in_values_but_not_in_prose() {
        let text = crate::text!(
            "Ask the key ",
            crate::diagnosis::model::code("arn:aws:iam::111122223333:role/key"),
            " or run ",
            crate::diagnosis::model::code("aws iam put-role-policy --role-name key")
        );
        let copy = redacted(&text);
        let plain = copy.plain();
        assert!(plain.starts_with("Ask the key "), "prose intact: {plain}");
        assert!(plain.ends_with("--role-name role-1"), "{plain}");
    }

    /// Identifiers shaped like pseudonyms (a role named `role-1`, an account `000000000001`)
    /// keep pseudonyms of their own: two roles never share one, and one role never has two.
    #[test]
    fn identifiers_shaped_like_pseudonyms_get_their_own() {
        let arns = vec![
            "arn:aws:iam::111122223333:role/Admin".to_owned(),
            "arn:aws:iam::111122223333:role/role-1".to_owned(),
            "arn:aws:iam::000000000001:role/role-2".to_owned(),
            "arn:aws:iam::111122223333:role/Admin".to_owned(),
            "arn:aws:iam::111122223333:role/role-1".to_owned(),
        ];
        let out = redacted(&arns);
        assert_eq!(out[0], out[3], "one role, one pseudonym");
        assert_eq!(out[1], out[4], "one role, one pseudonym");
        let distinct: HashSet<&String> = out[..3].iter().collect();
        assert_eq!(distinct.len(), 3, "{out:?}");
        for (original, shown) in arns.iter().zip(&out) {
            assert_ne!(original, shown);
            for word in ["role-1", "role-2", "Admin", "111122223333", "000000000001"] {
                assert!(!shown.contains(word), "{word} in {shown}");
            }
        }
    }
}
