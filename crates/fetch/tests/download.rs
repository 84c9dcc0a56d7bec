//! Downloads against a local HTTP server (rethink-testkit's, so nothing test-only is compiled into
//! the library): a verified file is fetched once and then read from the cache, a wrong MD5 leaves
//! nothing behind, and a missing file or a closed port is a network error.

use rethink_fetch::{FetchError, fetch_cached, md5_hex};
use rethink_testkit::TestServer;

#[test]
fn downloads_once_then_uses_the_verified_cache() {
    let dir = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let md5 = md5_hex(&body);
    let server = TestServer::serve(vec![("/a.bin".into(), body.clone())]);
    let cache = dir.path().join("sub/a.bin");
    let got = fetch_cached(&server.url("/a.bin"), &cache, &md5).unwrap();
    assert!(got.downloaded);
    assert_eq!(std::fs::read(&cache).unwrap(), body);
    assert_eq!(server.requests(), 1);
    let again = fetch_cached(&server.url("/a.bin"), &cache, &md5).unwrap();
    assert!(!again.downloaded);
    assert_eq!(server.requests(), 1);
}

#[test]
fn a_wrong_md5_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::serve(vec![("/a.bin".into(), b"hello".to_vec())]);
    let cache = dir.path().join("a.bin");
    let err = fetch_cached(&server.url("/a.bin"), &cache, &"0".repeat(32)).unwrap_err();
    assert!(matches!(err, FetchError::Md5Mismatch { .. }), "{err}");
    assert!(err.to_string().contains(&md5_hex(b"hello")), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_missing_file_and_a_closed_port_are_network_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::serve(vec![]);
    let cache = dir.path().join("a.bin");
    let err = fetch_cached(&server.url("/nope"), &cache, &"0".repeat(32)).unwrap_err();
    assert!(err.is_network(), "{err}");
    assert!(err.to_string().contains("404"), "{err}");
    let url = server.url("/a.bin");
    drop(server);
    let err = fetch_cached(&url, &cache, &"0".repeat(32)).unwrap_err();
    assert!(err.is_network(), "{err}");
    assert!(!cache.exists());
}
