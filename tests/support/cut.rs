//! A TCP relay that can cut a connection right after the client sends a given byte string
//! (sent on whole, then both sides closed, no answer relayed): a database connection lost
//! just after a COMMIT went out, for the outcome a store must then report.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Cut {
    pub port: u16,
    /// Cut after the next client bytes containing this string (once).
    armed: Arc<Mutex<Option<&'static [u8]>>>,
    /// Connections cut so far.
    pub cuts: Arc<AtomicUsize>,
}

impl Cut {
    /// Relay `127.0.0.1:{port}` to `127.0.0.1:{to}`.
    pub async fn start(to: u16) -> Cut {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let armed = Arc::new(Mutex::new(None));
        let cuts = Arc::new(AtomicUsize::new(0));
        let (a, c) = (armed.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (a, c) = (a.clone(), c.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(("127.0.0.1", to)).await {
                        relay(client, server, a, c).await;
                    }
                });
            }
        });
        Cut { port, armed, cuts }
    }

    /// Cut the next connection whose client sends `needle`, right after it.
    pub fn arm(&self, needle: &'static [u8]) {
        *self.armed.lock().unwrap() = Some(needle);
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    armed: Arc<Mutex<Option<&'static [u8]>>>,
    cuts: Arc<AtomicUsize>,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if sw.write_all(&buf[..n]).await.is_err() {
                return;
            }
            let hit = {
                let mut armed = armed.lock().unwrap();
                let hit = armed.is_some_and(|s| buf[..n].windows(s.len()).any(|w| w == s));
                if hit {
                    *armed = None;
                }
                hit
            };
            if hit {
                cuts.fetch_add(1, Ordering::SeqCst);
                let _ = sw.flush().await;
                return;
            }
        }
    };
    let down = tokio::io::copy(&mut sr, &mut cw);
    // The first direction to end ends the connection (both halves dropped: closed).
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}
