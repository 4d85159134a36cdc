//! The session task's queue to one connection: a bounded channel of [`Out`]s whose limit is
//! counted in frames, not in slots.
//!
//! The session task puts everything one pass of it has for a connection into one slot (an
//! [`Out::Batch`]), so a pass that handled 32 broadcasts costs each connection one send and one
//! wake-up, not 32. The queue's limit still says what it said when every frame had a slot of
//! its own: a connection with [`Limits::outbound_queue`](crate::Limits::outbound_queue) frames
//! waiting cannot keep up, and is closed with 4008.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use crate::driver::Out;

/// A queue that holds at most `limit` frames.
pub(crate) fn queue(limit: usize) -> (QueueTx, QueueRx) {
    // Every `Out` weighs at least one frame, so the channel never fills before the count does.
    let (tx, rx) = mpsc::channel(limit.max(1));
    let queued = Arc::new(AtomicUsize::new(0));
    (QueueTx { tx, queued: queued.clone(), limit }, QueueRx { rx, queued })
}

/// The session task's end.
#[derive(Debug, Clone)]
pub(crate) struct QueueTx {
    tx: mpsc::Sender<Out>,
    /// Frames sent and not yet taken by the connection task.
    queued: Arc<AtomicUsize>,
    limit: usize,
}

impl QueueTx {
    /// Queues `out`, or gives it back: `Full` when its frames would take the queue past its
    /// limit, `Closed` when the connection task has ended.
    pub(crate) fn try_send(&self, out: Out) -> Result<(), TrySendError<Out>> {
        let weight = out.weight();
        if self.queued.load(Ordering::Acquire) + weight > self.limit {
            return Err(TrySendError::Full(out));
        }
        // Counted before it can be taken, so the taker's subtraction never comes first.
        self.queued.fetch_add(weight, Ordering::AcqRel);
        self.tx.try_send(out).inspect_err(|_| {
            self.queued.fetch_sub(weight, Ordering::AcqRel);
        })
    }

    /// Frames waiting.
    pub(crate) fn depth(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}

/// The connection task's end.
#[derive(Debug)]
pub(crate) struct QueueRx {
    rx: mpsc::Receiver<Out>,
    queued: Arc<AtomicUsize>,
}

impl QueueRx {
    /// The next `Out`; `None` once the session task let go of the queue. Cancel-safe.
    pub(crate) async fn recv(&mut self) -> Option<Out> {
        let out = self.rx.recv().await?;
        Some(self.taken(out))
    }

    /// The next `Out` if one is waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Out> {
        self.rx.try_recv().ok().map(|out| self.taken(out))
    }

    fn taken(&self, out: Out) -> Out {
        self.queued.fetch_sub(out.weight(), Ordering::AcqRel);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use partyline_protocol::Frame;

    fn text(n: u64) -> Out {
        Out::Text(Frame::text(format!(r#"{{"n":{n}}}"#)), None)
    }

    /// The limit counts the frames of a batch, a replay counts one, and what is taken makes room.
    #[test]
    fn the_limit_is_counted_in_frames() {
        let (tx, mut rx) = queue(4);
        let batch = Out::Batch((0..3).map(|n| (Frame::text(format!("{n}")), None)).collect());
        tx.try_send(batch).unwrap();
        assert_eq!(tx.depth(), 3);
        tx.try_send(text(3)).unwrap();
        assert!(matches!(tx.try_send(text(4)), Err(TrySendError::Full(_))), "five frames in a queue of four");
        assert!(matches!(rx.try_recv(), Some(Out::Batch(frames)) if frames.len() == 3));
        assert_eq!(tx.depth(), 1);
        let replay = Out::Replay((0..100).map(|n| (Frame::text(format!("{n}")), Some(n))).collect());
        tx.try_send(replay).unwrap();
        assert_eq!(tx.depth(), 2, "a replay is written at the connection's pace, and counts one");
        tx.try_send(text(5)).unwrap();
        tx.try_send(text(6)).unwrap();
        assert!(tx.try_send(text(7)).is_err());
        drop(rx);
        let (tx, rx) = queue(4);
        drop(rx);
        assert!(matches!(tx.try_send(text(0)), Err(TrySendError::Closed(_))));
        assert_eq!(tx.depth(), 0, "a send that failed is not counted");
    }
}
