//! The inbound policy service over real TCP, as Postfix's smtpd speaks it (SMTPD_POLICY_README):
//! mail to the account's secure alias without TLS, or below the owner's minimum, is refused with
//! 550 5.7.1; with TLS, and to every other address, the answer is DUNNO. Several requests share
//! one connection; a malformed one closes it. Each message's connection is recorded as an
//! observation of the sending server (`source = inbound`), once per message, and changes no
//! verdict.

use sendguard::postfix::inbound::{self, Guard};
use sendguard::postfix::inbound_seen::Recorder;
use sendguard::store::Store;
use sendguard::user::account::{AccountConfig, DEFAULT_USER};
use sendguard_common::{
    MinTlsVersion, ObservationSource, SecureMode, SecureSendingSettings, SecurityClass,
    TransportRequirement,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const SECURE: &str = "maxima.mustermann@secure.sendguard.example";

fn request(recipient: &str, protocol: &str) -> String {
    format!(
        "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n\
         client_address=192.0.2.7\nclient_name=mx.sender.example\nsender=someone@sender.example\n\
         recipient={recipient}\nencryption_protocol={protocol}\n\
         encryption_cipher={cipher}\nencryption_keysize={bits}\ninstance={recipient}/{protocol}\n\n",
        cipher = if protocol.is_empty() {
            ""
        } else {
            "TLS_AES_128_GCM_SHA256"
        },
        bits = if protocol.is_empty() { 0 } else { 128 },
    )
}

async fn ask(stream: &mut BufReader<TcpStream>, text: &str) -> String {
    stream.get_mut().write_all(text.as_bytes()).await.unwrap();
    let mut reply = String::new();
    loop {
        let mut line = String::new();
        assert!(stream.read_line(&mut line).await.unwrap() > 0, "closed");
        if line == "\n" {
            return reply;
        }
        reply.push_str(&line);
    }
}

#[tokio::test]
async fn mail_to_a_secure_address_is_accepted_only_over_tls_at_the_owners_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("sendguard.db")).await.unwrap();
    let guard = Guard {
        account: AccountConfig::default(),
        store: store.clone(),
        recorder: Some(Recorder::spawn(store.clone())),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(inbound::serve(listener, guard));
    let mut s = BufReader::new(TcpStream::connect(addr).await.unwrap());

    let refused = ask(&mut s, &request(SECURE, "")).await;
    assert!(
        refused.starts_with("action=550 5.7.1 this address accepts mail only over an encrypted"),
        "{refused}"
    );
    assert!(refused.contains("encrypted"), "{refused}");
    assert_eq!(
        ask(&mut s, &request(SECURE, "TLSv1.2")).await,
        "action=DUNNO\n"
    );
    assert_eq!(
        ask(&mut s, &request("maxima.mustermann@sendguard.example", "")).await,
        "action=DUNNO\n",
        "the ordinary address takes mail as before"
    );

    // The owner's expert minimum: TLS 1.3.
    let expert = SecureSendingSettings {
        mode: SecureMode::Expert,
        receiving: TransportRequirement {
            tls_version: MinTlsVersion::Tls13,
            ..Default::default()
        },
        ..Default::default()
    };
    store.set_settings(DEFAULT_USER, &expert).await.unwrap();
    let refused = ask(&mut s, &request(SECURE, "TLSv1.2")).await;
    assert!(refused.contains("TLS 1.3"), "{refused}");
    assert_eq!(
        ask(&mut s, &request(SECURE, "TLSv1.3")).await,
        "action=DUNNO\n"
    );

    // A user from the database: her secure alias is guarded too.
    let hash = sendguard::user::password::hash("correct horse battery staple").unwrap();
    store
        .add_user(&sendguard::store::users::NewUser {
            id: "erika",
            display_name: "Erika",
            role: sendguard_common::Role::User,
            addresses: &["Erika@example.org".to_string()],
            password_hash: &hash,
        })
        .await
        .unwrap();
    let refused = ask(&mut s, &request("erika@secure.example.org", "")).await;
    assert!(refused.starts_with("action=550 5.7.1 "), "{refused}");
    assert_eq!(
        ask(&mut s, &request("erika@secure.example.org", "TLSv1.2")).await,
        "action=DUNNO\n"
    );
    assert_eq!(
        ask(&mut s, &request("nobody@secure.example.org", "")).await,
        "action=DUNNO\n",
        "not a user's alias: other restrictions decide"
    );

    // Not a request: the connection is closed.
    s.get_mut().write_all(b"GET / HTTP/1.0\n\n").await.unwrap();
    let mut rest = String::new();
    assert_eq!(s.read_line(&mut rest).await.unwrap(), 0, "{rest}");

    // Seven messages (one request repeated another's): seven observations of the sender.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let seen = loop {
        let seen = store.observations("mx.sender.example", 10).await.unwrap();
        if seen.len() >= 7 || std::time::Instant::now() > deadline {
            break seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert!(seen.iter().all(|o| o.source == ObservationSource::Inbound));
    assert!(seen.iter().all(|o| o.ip == "192.0.2.7"));
    let plain: Vec<_> = seen
        .iter()
        .filter(|o| o.class == SecurityClass::NoSsl)
        .collect();
    assert_eq!(plain.len(), 4);
    assert_eq!(plain[0].reason, "the sending server did not use STARTTLS");
    let tls: Vec<_> = seen
        .iter()
        .filter(|o| o.class == SecurityClass::SslOk)
        .collect();
    assert_eq!(tls.len(), 3);
    assert!(
        tls.iter()
            .any(|o| o.tls_version.as_deref() == Some("TLSv1.3"))
    );
    assert!(
        tls.iter()
            .all(|o| o.cipher.as_deref() == Some("TLS_AES_128_GCM_SHA256"))
    );
    // History only: no verdict, floor or hold follows from a server's TLS as a client.
    assert!(store.verdict("sender.example").await.unwrap().is_none());
    assert!(
        store
            .server_history("mx.sender.example")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.holds(true).await.unwrap().is_empty());
}
