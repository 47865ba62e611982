//! The parsers against the RFC's examples and hostile input.

use super::*;

const EXAMPLE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n";

#[test]
fn the_rfc_example_policy_parses() {
    let p = parse_policy(EXAMPLE.as_bytes()).unwrap();
    assert_eq!(p.mode, Mode::Enforce);
    assert_eq!(p.max_age, 604_800);
    let mx: Vec<&str> = p.mx.iter().map(MxPattern::as_str).collect();
    assert_eq!(
        mx,
        ["mail.example.com", "*.example.net", "backupmx.example.com"]
    );
    // LF alone, spaces after the colon, a trailing blank line.
    let lf = EXAMPLE.replace("\r\n", "\n").replace(": ", ":   ") + "\n";
    assert_eq!(parse_policy(lf.as_bytes()).unwrap(), p);
    // Its text is the example's lines and parses to the same policy.
    assert_eq!(p.text(), EXAMPLE.replace("\r\n", "\n"));
    assert_eq!(parse_policy(p.text().as_bytes()).unwrap(), p);
}

#[test]
fn wildcards_match_exactly_one_label() {
    let p = MxPattern::parse("*.Example.NET.").unwrap();
    assert!(p.matches("mx.example.net"));
    assert!(p.matches("MX.EXAMPLE.NET."));
    assert!(!p.matches("example.net"));
    assert!(!p.matches("a.b.example.net"));
    assert!(!p.matches("mx.example.net.evil"));
    assert!(!p.matches(".example.net"));
    let plain = MxPattern::parse("mail.example.com").unwrap();
    assert!(plain.matches("Mail.Example.Com."));
    assert!(!plain.matches("x.mail.example.com"));
}

#[test]
fn patterns_with_a_wildcard_elsewhere_are_refused() {
    for bad in [
        "*",
        "*.",
        "*example.com",
        "mx.*.example.com",
        "**.example.com",
        "*.*.example.com",
        "mx*.example.com",
        "com",
        "*.com",
        "-mx.example.com",
        "mx..example.com",
        "mx_1.example.com",
        "mx.example.com/evil",
        "192.0.2.1:25",
    ] {
        assert!(MxPattern::parse(bad).is_err(), "{bad} was accepted");
    }
    assert!(MxPattern::parse(&format!("{}.example.com", "a".repeat(64))).is_err());
}

#[test]
fn modes_and_versions_are_exact() {
    let with = |version: &str, mode: &str| {
        format!("version: {version}\nmode: {mode}\nmx: mx.example.com\nmax_age: 86400\n")
    };
    assert_eq!(
        parse_policy(with("STSv1", "testing").as_bytes())
            .unwrap()
            .mode,
        Mode::Testing
    );
    assert_eq!(
        parse_policy(with("STSv2", "enforce").as_bytes()),
        Err(PolicyError::Version)
    );
    assert_eq!(
        parse_policy(with("stsv1", "enforce").as_bytes()),
        Err(PolicyError::Version)
    );
    assert_eq!(
        parse_policy(with("STSv1", "Enforce").as_bytes()),
        Err(PolicyError::Mode)
    );
    assert_eq!(
        parse_policy(with("STSv1", "reject").as_bytes()),
        Err(PolicyError::Mode)
    );
    // The first of a repeated key counts.
    let twice =
        "version: STSv1\nmode: testing\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n";
    assert_eq!(parse_policy(twice.as_bytes()).unwrap().mode, Mode::Testing);
}

#[test]
fn max_age_is_bounded_and_clamped() {
    let with =
        |age: &str| format!("version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: {age}\n");
    let age = |a: &str| parse_policy(with(a).as_bytes()).map(|p| p.max_age);
    assert_eq!(age("0"), Ok(MIN_MAX_AGE));
    assert_eq!(age("9999999999"), Ok(MAX_MAX_AGE));
    assert_eq!(age("31557600"), Ok(31_557_600));
    assert_eq!(age("99999999999"), Err(PolicyError::MaxAge));
    assert_eq!(age("-1"), Err(PolicyError::MaxAge));
    assert_eq!(age("1e9"), Err(PolicyError::MaxAge));
    assert_eq!(age("+86400"), Err(PolicyError::MaxAge));
}

#[test]
fn unknown_keys_are_ignored_but_broken_lines_are_not() {
    let extended =
        "version: STSv1\nmode: enforce\nx-vendor.thing: 42\nmx: mx.example.com\nmax_age: 86400\n";
    assert!(parse_policy(extended.as_bytes()).is_ok());
    for bad in [
        "version: STSv1\nmode enforce\nmx: mx.example.com\nmax_age: 86400\n",
        "version: STSv1\nmode: enforce\nmx:\nmax_age: 86400\n",
        "version: STSv1\nmode: enforce\n mx: mx.example.com\nmax_age: 86400\n",
        "version: STSv1\nmode: enforce\n<html>\nmax_age: 86400\n",
    ] {
        assert!(
            matches!(parse_policy(bad.as_bytes()), Err(PolicyError::BadLine(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn hostile_policies_are_refused_without_panic() {
    assert_eq!(
        parse_policy(b"version: STSv1\nmode: enforce\nmax_age: 86400\n"),
        Err(PolicyError::NoMx)
    );
    // Mode none needs no pattern: how a policy is withdrawn (§8.3).
    let none = parse_policy(b"version: STSv1\nmode: none\nmax_age: 86400\n").unwrap();
    assert_eq!((none.mode, none.mx.len()), (Mode::None, 0));
    assert_eq!(parse_policy(&[0xff, 0xfe, 0x00]), Err(PolicyError::NotText));
    assert_eq!(parse_policy(b""), Err(PolicyError::Version));
    let many: String = (0..=MAX_MX_PATTERNS)
        .map(|i| format!("mx: mx{i}.example.com\n"))
        .collect();
    let many = format!("version: STSv1\nmode: enforce\nmax_age: 86400\n{many}");
    assert_eq!(parse_policy(many.as_bytes()), Err(PolicyError::TooManyMx));
    let long_line = format!("version: STSv1\n{}: x\n", "k".repeat(10_000));
    assert!(matches!(
        parse_policy(long_line.as_bytes()),
        Err(PolicyError::BadLine(l)) if l.len() <= 80
    ));
    let nul = b"version: STSv1\x00\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n";
    assert!(parse_policy(nul).is_err());
}

#[test]
fn records_need_v_first_and_a_valid_id() {
    assert_eq!(
        parse_record("v=STSv1; id=20160831085700Z;"),
        Ok("20160831085700Z".into())
    );
    assert_eq!(parse_record("v=STSv1;id=abc"), Ok("abc".into()));
    assert_eq!(parse_record("v=STSv1; id=abc; ext=1"), Ok("abc".into()));
    assert_eq!(parse_record("v=STSv1; id=a; id=b"), Ok("a".into()));
    assert_eq!(parse_record("id=abc; v=STSv1"), Err(RecordError::NotSts));
    assert_eq!(parse_record("v=STSv2; id=abc"), Err(RecordError::NotSts));
    assert_eq!(parse_record("v=STSv1"), Err(RecordError::Id));
    assert_eq!(parse_record("v=STSv1; id="), Err(RecordError::Id));
    assert_eq!(parse_record("v=STSv1; id=a-b"), Err(RecordError::Id));
    assert_eq!(
        parse_record(&format!("v=STSv1; id={}", "a".repeat(33))),
        Err(RecordError::Id)
    );
    assert!(matches!(
        parse_record("v=STSv1; id=abc; junk"),
        Err(RecordError::BadField(_))
    ));
}

#[test]
fn exactly_one_sts_record_counts() {
    let r = |list: &[&str]| sts_record(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(r(&[]), Ok(None));
    assert_eq!(r(&["v=spf1 -all"]), Ok(None));
    assert_eq!(r(&["v=spf1 -all", "v=STSv1; id=x1"]), Ok(Some("x1".into())));
    assert_eq!(
        r(&["v=STSv1; id=x1", "v=STSv1; id=x2"]),
        Err(RecordError::Several(2))
    );
    assert_eq!(r(&["v=STSv1; id=bad!"]), Err(RecordError::Id));
}
