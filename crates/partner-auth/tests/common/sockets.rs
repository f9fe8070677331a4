//! This process's TCP sockets to a loopback port, for reading their options (Linux:
//! `/proc/net/tcp{,6}` and `/proc/self/fd`; each a duplicate, so no `unsafe`).

#![cfg(target_os = "linux")]

use rustix::fd::OwnedFd;

/// `/proc/net/tcp`'s state of an established connection.
#[allow(dead_code)] // not every test that includes this file reads established ones
pub const ESTABLISHED: &str = "01";
/// `/proc/net/tcp`'s state of a connection whose SYN has no answer yet.
pub const SYN_SENT: &str = "02";

/// This process's TCP sockets to loopback `port` in `state` ([`ESTABLISHED`],
/// [`SYN_SENT`]), each duplicated from its descriptor.
pub fn sockets_to(port: u16, state: &str) -> Vec<OwnedFd> {
    let remote = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table).unwrap().lines().skip(1) {
            let columns: Vec<&str> = line.split_whitespace().collect();
            // local, remote, state, …, inode (column 9).
            if columns[2].ends_with(&remote) && columns[3] == state {
                inodes.push(format!("socket:[{}]", columns[9]));
            }
        }
    }
    let pidfd = rustix::process::pidfd_open(
        rustix::process::getpid(),
        rustix::process::PidfdFlags::empty(),
    )
    .unwrap();
    let mut sockets = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let entry = entry.unwrap();
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue; // the directory's own descriptor, closed by now
        };
        if !inodes
            .iter()
            .any(|inode| target.as_os_str() == inode.as_str())
        {
            continue;
        }
        let fd: i32 = entry.file_name().to_str().unwrap().parse().unwrap();
        // Closed meanwhile: not one of them any more.
        if let Ok(socket) =
            rustix::process::pidfd_getfd(&pidfd, fd, rustix::process::PidfdGetfdFlags::empty())
        {
            sockets.push(socket);
        }
    }
    sockets
}

/// A loopback listener that never completes a connection: its accept queue is full and
/// never drained, so Linux drops every SYN (the connection waits, as to a host behind a
/// firewall that drops packets). Returns the listener and the connections that filled its
/// queue (keep both) and its address. Call it inside a Tokio runtime.
pub fn never_accepting() -> (
    tokio::net::TcpListener,
    Vec<std::net::TcpStream>,
    std::net::SocketAddr,
) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    // Connections complete until the queue is full; the next one hangs.
    let mut filling = Vec::new();
    while let Ok(stream) =
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200))
    {
        filling.push(stream);
        assert!(filling.len() < 64, "the accept queue never filled");
    }
    (listener, filling, addr)
}
