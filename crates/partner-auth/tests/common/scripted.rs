//! A small HTTP/1.1 server on loopback whose answers a test scripts: in sequence, or from a
//! function of the request. It records every request with the time it arrived.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
    pub gate: Option<Gate>,
    /// Close the connection instead of answering.
    pub close: bool,
}

/// Holds the replies given it until the test opens it.
#[derive(Clone, Debug)]
pub struct Gate(Arc<tokio::sync::watch::Sender<bool>>);

impl Gate {
    pub fn new() -> Self {
        Self(Arc::new(tokio::sync::watch::channel(false).0))
    }

    pub fn open(&self) {
        self.0.send_replace(true);
    }

    pub async fn pass(&self) {
        let mut open = self.0.subscribe();
        let _ = open.wait_for(|open| *open).await;
    }
}

/// Polls `condition` until it holds; fails after 10 s (a hang, not a timing assertion).
pub async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            std::time::Instant::now() < give_up,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
            gate: None,
            close: false,
        }
    }

    /// No answer: the connection is closed once the request is read.
    #[allow(dead_code)] // some test files use it
    pub fn close() -> Self {
        Self {
            close: true,
            ..Self::json(500, serde_json::json!({}))
        }
    }

    /// A token response in the snake_case dialect every provider's lenient decode accepts.
    pub fn token(token: &str, expires_in: u64) -> Self {
        Self::json(
            200,
            serde_json::json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in}),
        )
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Answered only once `gate` is open.
    pub fn held(mut self, gate: &Gate) -> Self {
        self.gate = Some(gate.clone());
        self
    }
}

/// One request as it arrived (`at` on Tokio's clock, so paused time shows in it).
#[derive(Clone, Debug)]
pub struct Hit {
    pub at: Instant,
    pub path: String,
    pub authorization: Option<String>,
    pub body: String,
}

type Responder = dyn Fn(&Hit) -> Reply + Send + Sync;

pub struct Scripted {
    base_url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    queue: Arc<Mutex<VecDeque<Reply>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Scripted {
    /// A server answering with the queued replies in order, then `fallback` forever.
    pub async fn sequence(replies: Vec<Reply>, fallback: Reply) -> Self {
        let queue = Arc::new(Mutex::new(VecDeque::from(replies)));
        let q = Arc::clone(&queue);
        let mut server = Self::respond(move |_| {
            q.lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| fallback.clone())
        })
        .await;
        server.queue = queue;
        server
    }

    /// A server answering each request with `responder(request)`.
    pub async fn respond(responder: impl Fn(&Hit) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(Vec::new()));
        let responder: Arc<Responder> = Arc::new(responder);
        let recorded = Arc::clone(&hits);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let (responder, recorded) = (Arc::clone(&responder), Arc::clone(&recorded));
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut reader = BufReader::new(read);
                    while let Some(hit) = read_request(&mut reader).await {
                        recorded.lock().unwrap().push(hit.clone());
                        let reply = responder(&hit);
                        if let Some(gate) = &reply.gate {
                            gate.pass().await;
                        }
                        tokio::time::sleep(reply.delay).await;
                        if reply.close {
                            return;
                        }
                        let mut head = format!(
                            "HTTP/1.1 {} Scripted\r\ncontent-length: {}\r\n",
                            reply.status,
                            reply.body.len()
                        );
                        for (name, value) in &reply.headers {
                            head.push_str(&format!("{name}: {value}\r\n"));
                        }
                        head.push_str("\r\n");
                        // One write: a head and body in two segments would wait on
                        // Nagle's algorithm and a delayed ACK (40 ms) on every answer.
                        head.push_str(&reply.body);
                        if write.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            base_url,
            hits,
            queue: Arc::default(),
            task,
        }
    }

    /// Queues more replies (for a [`sequence`](Self::sequence) server).
    pub fn push(&self, reply: Reply) {
        self.queue.lock().unwrap().push_back(reply);
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.hits.lock().unwrap().len()
    }
}

async fn read_request(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<Hit> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let at = Instant::now();
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let (mut length, mut authorization) = (0usize, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).await.ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some(Hit {
        at,
        path,
        authorization,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
