//! From review: "A `Content-Length` above the limit fails before any of the body is read"
//! (`limit_response`), so a server that declares a body too large and then sends nothing
//! (or trickles it) cannot hold the read open: it fails at once, with no timeout to wait
//! out (a caller's `reqwest::Client` may have none).

use std::time::Duration;

use partner_api_support::{ClientState, ResponseObserver, ResponseTooLarge, limit_response};

/// A loopback server that answers one request with `head` and then sends nothing, holding
/// the connection open until the client closes it.
fn stalling_server(head: &'static str) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let _ = stream.write_all(head.as_bytes());
        // Until the client hangs up.
        while !matches!(stream.read(&mut buf), Ok(0) | Err(_)) {}
    });
    url
}

fn too_large(err: &reqwest::Error) -> Option<ResponseTooLarge> {
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<ResponseTooLarge>() {
            return Some(*found);
        }
        source = e.source();
    }
    None
}

const HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5000000\r\n\r\n";

#[tokio::test(start_paused = true)]
async fn a_declared_length_over_the_limit_fails_without_waiting_for_the_body() {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = http.get(stalling_server(HEAD)).send().await.unwrap();
    let read = tokio::time::timeout(
        Duration::from_secs(3600),
        limit_response(response, 1000).bytes(),
    )
    .await
    .expect("the read waited for a body it was going to refuse");
    assert_eq!(
        too_large(&read.unwrap_err()),
        Some(ResponseTooLarge { limit: 1000 })
    );
}

#[tokio::test(start_paused = true)]
async fn the_same_through_a_client_state_with_a_capturing_observer() {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let observer = ResponseObserver::capturing_body();
    let state = ClientState::default()
        .with_max_response_bytes(1000)
        .with_response_observer(observer.clone());
    let request = reqwest::Request::new(
        reqwest::Method::POST,
        stalling_server(HEAD).parse().unwrap(),
    );
    let response = state.execute(&http, request).await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(3600), response.bytes())
        .await
        .expect("the read waited for a body it was going to refuse");
    assert_eq!(
        too_large(&read.unwrap_err()),
        Some(ResponseTooLarge { limit: 1000 })
    );
    assert_eq!(observer.last().unwrap().status, 200);
    assert_eq!(observer.body().unwrap(), b"");
}
