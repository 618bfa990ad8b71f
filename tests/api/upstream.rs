//! A local image provider for tests: a real HTTP server playing OpenAI's
//! `POST /v1/images/generations`, with a delay and failures set while it runs. It counts the
//! calls, how many are in flight (and the most at once), and the calls whose client hung up
//! before the answer (abandoned).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
pub struct Counters {
    pub delay_ms: AtomicU64,
    pub fail: AtomicBool,
    pub calls: AtomicUsize,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub abandoned: AtomicUsize,
}

pub struct Upstream {
    pub url: String,
    pub counters: Arc<Counters>,
}

impl Upstream {
    pub async fn start(delay: Duration) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let counters = Arc::new(Counters::default());
        counters.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
        let shared = counters.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, shared.clone()));
            }
        });
        Upstream { url, counters }
    }

    /// The apinfer configuration that sends every model here.
    pub fn config(&self) -> apinfer_api::config::UpstreamConfig {
        apinfer_api::config::UpstreamConfig {
            base_url: self.url.clone(),
            api_key: "upstream-key".to_string().into(),
            models: vec!["*".into()],
            upstream_model: None,
            timeout_seconds: 60,
            max_retries: 0,
        }
    }

    pub fn set_delay(&self, delay: Duration) {
        self.counters.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn set_failing(&self, fail: bool) {
        self.counters.fail.store(fail, Ordering::SeqCst);
    }

    pub fn calls(&self) -> usize {
        self.counters.calls.load(Ordering::SeqCst)
    }

    pub fn in_flight(&self) -> usize {
        self.counters.in_flight.load(Ordering::SeqCst)
    }

    pub fn max_in_flight(&self) -> usize {
        self.counters.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn abandoned(&self) -> usize {
        self.counters.abandoned.load(Ordering::SeqCst)
    }
}

/// One connection: requests one after another (keep-alive) until the client closes it.
async fn serve(mut socket: TcpStream, counters: Arc<Counters>) {
    let mut buffer = Vec::new();
    loop {
        let Some(body) = read_request(&mut socket, &mut buffer).await else { return };
        counters.calls.fetch_add(1, Ordering::SeqCst);
        let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        counters.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let delay = Duration::from_millis(counters.delay_ms.load(Ordering::SeqCst));
        // The client hanging up during the delay is an abandoned call.
        let mut probe = [0_u8; 1];
        let hung_up = tokio::select! {
            _ = tokio::time::sleep(delay) => false,
            read = socket.read(&mut probe) => matches!(read, Ok(0) | Err(_)),
        };
        if hung_up {
            counters.in_flight.fetch_sub(1, Ordering::SeqCst);
            counters.abandoned.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let (status, answer) = if counters.fail.load(Ordering::SeqCst) {
            ("500 Internal Server Error", json!({"error": {"message": "the model is down", "type": "server_error"}}))
        } else {
            ("200 OK", images(&body))
        };
        let answer = answer.to_string();
        let head =
            format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", answer.len());
        let written = socket.write_all(format!("{head}{answer}").as_bytes()).await;
        counters.in_flight.fetch_sub(1, Ordering::SeqCst);
        if written.is_err() {
            return;
        }
    }
}

/// Reads one request; answers its JSON body, or None once the connection ends.
async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Value> {
    let mut chunk = [0_u8; 8192];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = serde_json::from_slice(&buffer[head_end..head_end + length]).unwrap_or_default();
    buffer.drain(..head_end + length);
    Some(body)
}

/// OpenAI's answer: `n` PNGs of the asked size, inline.
fn images(request: &Value) -> Value {
    let (width, height) = request["size"]
        .as_str()
        .and_then(|size| size.split_once('x'))
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .unwrap_or((64, 64));
    let n = request["n"].as_u64().unwrap_or(1);
    let data: Vec<Value> = (0..n).map(|i| json!({"b64_json": png(width, height, i as u8)})).collect();
    json!({"created": 1, "data": data})
}

fn png(width: u32, height: u32, shade: u8) -> String {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&vec![shade; (width * height * 3) as usize]).unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(out)
}
