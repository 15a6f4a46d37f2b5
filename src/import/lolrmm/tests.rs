//! Tests of the LOLRMM importer.

use super::*;

fn dom(s: &str) -> Result<(Host, Option<String>, bool, usize), String> {
    normalize_domain(s).map(|n| (n.host, n.port, n.wildcard, n.changes.len()))
}
fn d(s: &str) -> Host {
    Host::Domain(s.into())
}

#[test]
fn domain_normalizer() {
    let ok: &[(&str, Host, Option<&str>, bool, usize)] = &[
        ("anydesk.com", d("anydesk.com"), None, false, 0),
        ("*.anydesk.com", d("anydesk.com"), None, true, 0),
        ("GetScreen.me", d("getscreen.me"), None, false, 0),
        (
            "boot.net.anydesk.com.",
            d("boot.net.anydesk.com"),
            None,
            false,
            1,
        ),
        (
            "host.example.com:5938",
            d("host.example.com"),
            Some("5938"),
            false,
            0,
        ),
        (
            "https://get.example.com/dl/x.exe",
            d("get.example.com"),
            None,
            false,
            1,
        ),
        (
            "relay-[a-f0-9]{8}.net.anydesk.com:443",
            d("net.anydesk.com"),
            Some("443"),
            false,
            1,
        ),
        ("plus*.site24x7.com", d("site24x7.com"), None, false, 1),
        (
            "agents*-cloud.acronis.com",
            d("acronis.com"),
            None,
            false,
            1,
        ),
        (
            "rescue-list.*.logmein-gateway.com",
            d("logmein-gateway.com"),
            None,
            false,
            1,
        ),
        (
            "51.255.19.178",
            Host::Ip("51.255.19.178".into()),
            None,
            false,
            0,
        ),
        (
            "51.255.19.178:443",
            Host::Ip("51.255.19.178".into()),
            Some("443"),
            false,
            0,
        ),
        (
            "2a00:1450::1",
            Host::Ip("2a00:1450::1".into()),
            None,
            false,
            0,
        ),
        (
            "136.243.0.0/16",
            Host::Cidr("136.243.0.0/16".into()),
            None,
            false,
            0,
        ),
        (
            "x.cdn.cloudflare.net",
            d("x.cdn.cloudflare.net"),
            None,
            false,
            0,
        ),
    ];
    for (raw, host, port, wild, changes) in ok {
        assert_eq!(
            dom(raw),
            Ok((host.clone(), port.map(str::to_string), *wild, *changes)),
            "{raw}"
        );
    }
    for bad in [
        "",
        "  ",
        "N/A",
        "user_managed",
        "<operator-configured GLPI server>",
        "localhost",
        "com",
        "10.1.2.3",
        "192.168.0.0/16",
        "127.0.0.1",
        "amazonaws.com",
        "*.cloudfront.net",
        "google.com",
        "pdqinstallers.*.r2.cloudflarestorage.com",
        "bücher.example",
        "x.com:abc",
        "*.com",
        "10.0.0.1/8",
    ] {
        assert!(dom(bad).is_err(), "{bad:?} → {:?}", dom(bad));
    }
}

#[test]
fn slugs() {
    assert_eq!(slug("AnyDesk"), "anydesk");
    assert_eq!(
        slug("247ithelp.com (ConnectWise)"),
        "247ithelp-com-connectwise"
    );
    assert_eq!(slug("  Level.io "), "level-io");
    assert_eq!(slug("I'm InTouch"), "i-m-intouch");
    assert_eq!(slug("上海"), "");
    let long = slug(&"x".repeat(100));
    assert_eq!(long.len() + "lolrmm-".len(), 64);
}

#[test]
fn paths() {
    let ok = |s: &str| path_match(s).map(|(k, v, c)| (k, v, c.is_some()));
    assert_eq!(
        ok(r"C:\Program Files\AnyDesk\*"),
        Ok(("prefix", r"C:\Program Files\AnyDesk\".into(), false))
    );
    assert_eq!(
        ok(r"%programdata%\Tiflux\*"),
        Ok(("contains", r"\Tiflux\".into(), false))
    );
    assert_eq!(
        ok(r"*\AteraAgent.exe"),
        Ok(("suffix", r"\AteraAgent.exe".into(), false))
    );
    assert_eq!(
        ok(r"*\*\Duplicati.Server.exe"),
        Ok(("suffix", r"\Duplicati.Server.exe".into(), true))
    );
    assert_eq!(
        ok(r"C:\Windows\System32\mstsc.exe"),
        Ok(("exact", r"C:\Windows\System32\mstsc.exe".into(), false))
    );
    assert!(ok("/Applications/AnyDesk.app").is_err());
    assert!(ok(r"C:\Program Files (x86)\Google\*").is_err());
    assert!(ok(r"*\ScreenConnect Client*\*").is_err());
    assert!(ok(r"*\x*.exe").is_err());
}

#[test]
fn names() {
    assert!(name_pred("process_name", "setup.exe", false).is_err());
    assert!(name_pred("process_name", "x.msi", false).is_err());
    assert!(name_pred("process_name", "ControlR.Agent.dll", false).is_err());
    assert!(name_pred("process_original_file_name", "ControlR.Agent.dll", true).is_ok());
    assert_eq!(
        name_pred("process_name", "g2file*.exe", false),
        Ok(Pred::All(vec![
            Pred::matches("process_name", "prefix", vec!["g2file".into()]),
            Pred::matches("process_name", "suffix", vec![".exe".into()]),
        ]))
    );
    assert!(name_pred("process_name", "a*b*c", false).is_err());
}

#[test]
fn mojibake_is_decoded_and_proper_text_is_kept() {
    // Parsec's catalogue entry: an en dash written as UTF-8, read as Windows-1252, re-encoded
    assert_eq!(
        super::one_line("desktop reimagined \u{E2}\u{20AC}\u{201C} a seamless"),
        "desktop reimagined \u{2013} a seamless"
    );
    assert_eq!(super::one_line("caf\u{C3}\u{A9}"), "caf\u{E9}");
    // text that is already right stays as it is (its Windows-1252 bytes are no UTF-8)
    for ok in ["caf\u{E9}", "a \u{2014} b", "\u{4E0A}\u{6D77}", "plain"] {
        assert_eq!(super::one_line(ok), ok);
    }
}
