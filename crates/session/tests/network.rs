//! Over a network with latency, reordering across connections and loss (a lost message breaks
//! its connection, as on TCP, with everything in flight on it), every member that reconnects and
//! resumes receives every chat exactly once, in the session's order, with no gap in its `seq`:
//! the promise a phone on bad Wi-Fi relies on. Virtual time; each seed is another network.

mod sim;

use partyline_protocol::ClientMessage;
use partyline_protocol::client::Chat;
use partyline_session::{Config, SECOND};
use sim::T0;
use sim::net::{NetSim, Network};

/// Twenty networks of 1–80 ms latency and 1 % loss: six members chatting for 30 s, then a quiet
/// minute to reconnect. Every member's chats are the same run of ids up to the last, once each.
#[test]
fn chats_survive_latency_reordering_and_loss() {
    let mut total_breaks = 0;
    for seed in 0..20 {
        let network = Network { latency: (1_000, 80_000), loss: 0.01 };
        let mut sim = NetSim::new(Config::default(), network, seed, 6);
        sim.run_until(T0 + 3 * SECOND);
        for round in 0..30 {
            for client in 0..6 {
                let chat = Chat { timestamp: 1.into(), text: format!("{client}:{round}"), room: None };
                sim.client_send(client, ClientMessage::Chat(chat).to_text());
            }
            let next = sim.now + SECOND;
            sim.run_until(next);
        }
        let settle = sim.now + 60 * SECOND;
        sim.run_until(settle);
        let chat_ids = |seen: &[serde_json::Value]| -> Vec<u64> {
            let ids = seen.iter().filter(|m| m["type"] == "chat");
            ids.map(|m| m["id"].as_str().unwrap()[2..].parse().unwrap()).collect()
        };
        let last = sim.clients.iter().filter_map(|c| chat_ids(&c.seen).last().copied()).max().unwrap();
        assert!(last > 100, "seed {seed}: most chats got through ({last})");
        for client in &sim.clients {
            assert!(
                client.conn.is_some(),
                "seed {seed}: {} is connected at the end (breaks {}, closes {:?}, retry at {:?}, now {})",
                client.device,
                client.breaks,
                client.closes,
                client.retry_at,
                sim.now
            );
            let ids = chat_ids(&client.seen);
            let first = ids[0];
            let expected: Vec<u64> = (first..=last).collect();
            assert_eq!(
                ids, expected,
                "seed {seed}: {} ({} breaks, closed {:?}) missed or repeated chats",
                client.device, client.breaks, client.closes
            );
            total_breaks += client.breaks;
        }
    }
    assert!(total_breaks > 20, "the network really broke connections ({total_breaks} breaks)");
}
