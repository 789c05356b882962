//! Review: close() while a redial hangs on a server whose backlog is full
//! ends at once with nothing queued, within the linger time with a message
//! queued (counted unsent, not a clean close).

mod support;

use std::time::{Duration, Instant};

use support::*;
use tcphub::{ClientEvent, DisconnectReason, Framing, Reconnect, TcpClient};

fn hung_redial(queued: bool) {
    use socket2::{Domain, Socket, Type};
    let lst = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    lst.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    lst.listen(0).unwrap();
    let addr = lst.local_addr().unwrap().as_socket().unwrap();
    let client = TcpClient::builder(addr)
        .framing(Framing::lines())
        .connect_timeout(Duration::from_secs(60))
        .reconnect(Reconnect {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(20),
            max_attempts: None,
        })
        .connect()
        .unwrap();
    let (conn, _) = lst.accept().unwrap();
    let refill: Vec<Socket> = (0..4)
        .map(|_| {
            let s = Socket::new(Domain::IPV4, Type::STREAM.nonblocking(), None).unwrap();
            let _ = s.connect(&addr.into());
            s
        })
        .collect();
    wait_until("the backlog full", || {
        refill.iter().any(|s| s.peer_addr().is_ok())
    });
    drop(conn);
    // Wait until a redial is under way (the connect hangs).
    wait_until("reconnecting", || {
        matches!(
            client.next_event(Duration::from_millis(50)),
            Ok(ClientEvent::Reconnecting { .. })
        )
    });
    // (Not for correctness: most likely the redial is then hanging in its
    // connect, else still waiting; either must end promptly.)
    std::thread::sleep(Duration::from_millis(300));
    if queued {
        client.send(b"stuck").unwrap();
    }
    let t = Instant::now();
    client.close();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(8), "{took:?}");
    if queued {
        assert_eq!(client.unsent(), 1);
        assert_ne!(
            client.disconnect_reason(),
            Some(DisconnectReason::ClosedLocally)
        );
    } else {
        assert_eq!(client.unsent(), 0);
    }
    eprintln!(
        "queued {queued}: close took {took:?}, reason {:?}",
        client.disconnect_reason()
    );
    drop(refill);
}

#[test]
fn close_during_a_hung_redial_ends_promptly() {
    hung_redial(false);
    hung_redial(true);
}
