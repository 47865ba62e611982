//! `sendguard user` as an operator runs it: users with addresses and roles in the database, the
//! password read from standard input or a file and stored only as an argon2id hash that checks
//! it, addresses unique across users and never a secure alias, clear refusals with exit codes
//! (1 refused, 2 no such user).

use std::process::Output;

use sendguard::store::Store;
use sendguard::store::users::Role;
use sendguard::user::password;

mod common;

fn sendguard(db: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    common::run_sendguard(db, args, stdin)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_added_listed_changed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sendguard.db");
    let secret = "correct horse battery staple";
    let out = sendguard(
        &db,
        &[
            "user",
            "add",
            "Maxima",
            "--name",
            "Maxima Mustermann",
            "--address",
            "maxima@Sendguard.Example",
        ],
        &format!("{secret}\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains(secret) && !text(&out.stderr).contains(secret));
    let file = dir.path().join("admin.pw");
    std::fs::write(&file, "an admin's long password\nignored\n").unwrap();
    let out = sendguard(
        &db,
        &[
            "user",
            "add",
            "admin",
            "--admin",
            "--address",
            "admin@sendguard.example",
            "--password-file",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let store = Store::open(&db).await.unwrap();
    let maxima = store
        .user("maxima")
        .await
        .unwrap()
        .expect("stored lower-case");
    assert_eq!(maxima.display_name, "Maxima Mustermann");
    assert_eq!(maxima.role, Role::User);
    assert_eq!(maxima.addresses, ["maxima@sendguard.example"]);
    let hash = store.password_hash("maxima").await.unwrap().unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(secret));
    assert!(password::verify(secret, &hash));
    assert!(!password::verify("wrong password entirely", &hash));
    let admin = store.password_hash("admin").await.unwrap().unwrap();
    assert!(
        password::verify("an admin's long password", &admin),
        "the file's first line"
    );
    assert_eq!(
        store.user("admin").await.unwrap().unwrap().role,
        Role::Admin
    );

    // Refusals: short password, taken address, secure alias, bad login; nothing is written.
    for (args, input, why) in [
        (
            vec![
                "user",
                "add",
                "erika",
                "--address",
                "erika@sendguard.example",
            ],
            "short\n",
            "too short",
        ),
        (
            vec![
                "user",
                "add",
                "erika",
                "--address",
                "maxima@sendguard.example",
            ],
            "long enough password\n",
            "maxima's address already",
        ),
        (
            vec!["user", "add", "maxima", "--address", "m2@sendguard.example"],
            "long enough password\n",
            "there is a user maxima",
        ),
        (
            vec!["user", "add", "a b", "--address", "x@sendguard.example"],
            "long enough password\n",
            "not a login name",
        ),
        (
            vec![
                "user",
                "alias",
                "add",
                "maxima",
                "maxima@secure.sendguard.example",
            ],
            "",
            "secure alias",
        ),
        (
            vec![
                "user",
                "alias",
                "remove",
                "admin",
                "admin@sendguard.example",
            ],
            "",
            "only address",
        ),
    ] {
        let out = sendguard(&db, &args, input);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains(why),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert!(store.user("erika").await.unwrap().is_none());

    // Addresses, password, listing, removal.
    assert!(
        sendguard(
            &db,
            &["user", "alias", "add", "maxima", "max@other.example"],
            ""
        )
        .status
        .success()
    );
    // `sendguard send --user`: the user's addresses, the message under their name.
    let send = |args: &[&str]| {
        let all: Vec<&str> = ["send", "--subject", "Hallo"]
            .iter()
            .chain(args)
            .copied()
            .collect();
        sendguard(&db, &all, "Text\n")
    };
    let out = send(&[
        "--user",
        "maxima",
        "--from",
        "max@other.example",
        "--to",
        "x@example.org",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(store.messages("maxima").await.unwrap().len(), 1);
    let out = send(&[
        "--user",
        "maxima",
        "--from",
        "admin@sendguard.example",
        "--to",
        "x@example.org",
    ]);
    assert_eq!(out.status.code(), Some(1), "not one of maxima's addresses");
    assert!(text(&out.stderr).contains("not one of your sender addresses"));
    let out = send(&[
        "--user",
        "nobody",
        "--from",
        "x@example.org",
        "--to",
        "x@example.org",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("there is no user nobody"));
    assert_eq!(store.messages("maxima").await.unwrap().len(), 1);

    let out = sendguard(&db, &["user", "list"], "");
    let list = text(&out.stdout);
    assert!(
        list.contains("maxima") && list.contains("maxima@sendguard.example, max@other.example"),
        "{list}"
    );
    assert!(list.lines().all(|l| l.len() <= 80), "{list}");
    let json: serde_json::Value =
        serde_json::from_slice(&sendguard(&db, &["user", "list", "--json"], "").stdout).unwrap();
    assert_eq!(json[1]["addresses"][1], "max@other.example");
    assert!(
        json.to_string().find("argon2").is_none(),
        "no hash in the listing"
    );
    assert!(
        sendguard(&db, &["user", "passwd", "maxima"], "a brand new password\n")
            .status
            .success()
    );
    let hash = store.password_hash("maxima").await.unwrap().unwrap();
    assert!(password::verify("a brand new password", &hash) && !password::verify(secret, &hash));
    assert!(
        sendguard(
            &db,
            &["user", "alias", "remove", "maxima", "max@other.example"],
            ""
        )
        .status
        .success()
    );
    assert_eq!(
        sendguard(&db, &["user", "passwd", "nobody"], "whatever long one\n")
            .status
            .code(),
        Some(2)
    );
    assert!(
        sendguard(&db, &["user", "remove", "maxima"], "")
            .status
            .success()
    );
    assert_eq!(
        sendguard(&db, &["user", "remove", "maxima"], "")
            .status
            .code(),
        Some(2)
    );
    assert!(store.user("maxima").await.unwrap().is_none());
    assert_eq!(
        store
            .user_of_address("maxima@sendguard.example")
            .await
            .unwrap(),
        None,
        "its addresses went with it"
    );
}
