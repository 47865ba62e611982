//! Certificates (RSA, made by `openssl req`/`x509`), TLSA digests (RFC 6698 §2.1, computed by
//! OpenSSL rather than by our own code) and signed zones (`ldns-keygen`, `ldns-signzone`,
//! ECDSAP256SHA256 per RFC 6605) for the interop world.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::process::run_ok;

/// A certificate and its key, as PEM files.
pub struct Cert {
    pub key: PathBuf,
    /// The leaf, followed by its issuer when it has one.
    pub chain: PathBuf,
}

pub fn openssl(what: &str, args: &[&str], dir: &Path) -> String {
    run_ok(what, Command::new("openssl").args(args).current_dir(dir))
}

/// A self-signed certificate for the host `name` (also its subjectAltName).
pub fn self_signed(dir: &Path, name: &str, file: &str) -> Cert {
    let san = format!("subjectAltName=DNS:{name}");
    new_self_signed(
        dir,
        file,
        name,
        &["-addext", &san],
        &format!("making the self-signed certificate of {name}"),
    )
}

/// A new RSA key and a self-signed certificate for `/CN={cn}`, written to `{file}.key` and
/// `{file}.crt`; `extra` goes to `openssl req` as well.
pub fn new_self_signed(dir: &Path, file: &str, cn: &str, extra: &[&str], what: &str) -> Cert {
    let key = dir.join(format!("{file}.key"));
    let chain = dir.join(format!("{file}.crt"));
    let subject = format!("/CN={cn}");
    let mut args = vec![
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "30",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        chain.to_str().unwrap(),
        "-subj",
        &subject,
    ];
    args.extend_from_slice(extra);
    openssl(what, &args, dir);
    Cert { key, chain }
}

/// A leaf for `name` issued by the CA `ca` (key and certificate files), chain = leaf + CA.
pub fn issued(dir: &Path, name: &str, file: &str, ca: &Cert) -> Cert {
    let key = dir.join(format!("{file}.key"));
    let csr = dir.join(format!("{file}.csr"));
    let leaf = dir.join(format!("{file}.leaf.crt"));
    let ext = dir.join(format!("{file}.ext"));
    std::fs::write(&ext, format!("subjectAltName=DNS:{name}\n")).unwrap();
    openssl(
        &format!("making the key and request of {name}"),
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            csr.to_str().unwrap(),
            "-subj",
            &format!("/CN={name}"),
        ],
        dir,
    );
    openssl(
        &format!("issuing the certificate of {name}"),
        &[
            "x509",
            "-req",
            "-in",
            csr.to_str().unwrap(),
            "-CA",
            ca.chain.to_str().unwrap(),
            "-CAkey",
            ca.key.to_str().unwrap(),
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            ext.to_str().unwrap(),
            "-out",
            leaf.to_str().unwrap(),
        ],
        dir,
    );
    let chain = dir.join(format!("{file}.crt"));
    let mut pem = std::fs::read_to_string(&leaf).unwrap();
    pem.push_str(&std::fs::read_to_string(&ca.chain).unwrap());
    std::fs::write(&chain, pem).unwrap();
    Cert { key, chain }
}

/// SHA-256 of the DER of the first certificate in `pem` (selector 0) or of its
/// SubjectPublicKeyInfo (selector 1), computed by OpenSSL rather than by our own code.
pub fn tlsa_digest(dir: &Path, pem: &Path, selector: u8) -> String {
    let pem = pem.to_str().unwrap();
    let script = match selector {
        0 => format!("openssl x509 -in {pem} -outform DER | openssl dgst -sha256 -r"),
        _ => format!(
            "openssl x509 -in {pem} -noout -pubkey | openssl pkey -pubin -outform DER \
             | openssl dgst -sha256 -r"
        ),
    };
    let out = run_ok(
        "computing a TLSA digest",
        Command::new("sh").args(["-c", &script]).current_dir(dir),
    );
    out.split_whitespace().next().unwrap().to_string()
}

/// Generates a KSK and a ZSK for `zone` and returns their base names.
pub fn zone_keys(dir: &Path, zone: &str) -> (String, String) {
    let keygen = |ksk: bool| {
        let mut cmd = Command::new("ldns-keygen");
        cmd.args(["-a", "ECDSAP256SHA256"]);
        if ksk {
            cmd.arg("-k");
        }
        cmd.arg(zone).current_dir(dir);
        run_ok(&format!("ldns-keygen for {zone}"), &mut cmd)
            .trim()
            .to_string()
    };
    (keygen(true), keygen(false))
}

/// Appends the keys to `zone_file` and signs it into `zone_file.signed`.
pub fn sign_zone(dir: &Path, zone_file: &str, origin: &str, keys: &(String, String)) {
    let mut text = std::fs::read_to_string(dir.join(zone_file)).unwrap();
    for k in [&keys.0, &keys.1] {
        text.push_str(&std::fs::read_to_string(dir.join(format!("{k}.key"))).unwrap());
    }
    std::fs::write(dir.join(zone_file), text).unwrap();
    run_ok(
        &format!("ldns-signzone for {origin}"),
        Command::new("ldns-signzone")
            .args(["-o", origin, zone_file, &keys.0, &keys.1])
            .current_dir(dir),
    );
}
