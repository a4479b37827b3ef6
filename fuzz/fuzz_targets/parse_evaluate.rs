//! Parse any bytes as a key policy; when they parse, evaluate requests and run the
//! policy-wide queries. Nothing may panic.
#![no_main]

use kms_doctor::policy::{
    Context, Identity, KeyPolicy, PUT_KEY_POLICY, evaluate_for, grantees, orphaned_principals,
};
use libfuzzer_sys::fuzz_target;

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = KeyPolicy::parse(text) else {
        return;
    };
    let now = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap();
    let mut context = Context::default();
    context.push("kms:ViaService", "s3.us-east-1.amazonaws.com".into());
    context.push("aws:TagKeys", "a".into());
    context.push("aws:TagKeys", "b".into());
    context.mark_absent("aws:SourceVpc");
    for who in [
        "arn:aws:sts::111122223333:assumed-role/Admin/alice",
        "arn:aws:iam::111122223333:role/ops/Admin",
        "arn:aws:iam::111122223333:user/alice",
        "111122223333",
        "logs.amazonaws.com",
    ] {
        let who = Identity::parse(who).unwrap();
        for action in ["kms:GetKeyPolicy", "kms:PutKeyPolicy"] {
            let _ = evaluate_for(&policy, &who, action, Some(KEY), &context, now);
            let _ = evaluate_for(&policy, &who, action, None, &context, now);
        }
    }
    let _ = grantees(&policy, PUT_KEY_POLICY, Some(KEY), &context, now);
    let _ = orphaned_principals(&policy);
});
