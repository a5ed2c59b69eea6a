//! Background requests: one tokio task per turn, tagged with its turn id, cancellable.

use std::collections::HashMap;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use crate::action::{Msg, TurnId};
use crate::api::client::Client;
use crate::api::types::{Request, StreamEvent};

/// Runs requests off the UI path. Every message it sends carries the turn it belongs to.
pub struct Worker {
    client: Client,
    tx: UnboundedSender<Msg>,
    tasks: HashMap<TurnId, JoinHandle<()>>,
}

impl Worker {
    pub fn new(client: Client, tx: UnboundedSender<Msg>) -> Self {
        Self {
            client,
            tx,
            tasks: HashMap::new(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Swap the client (a new base URL or key); running turns keep the old one.
    pub fn set_client(&mut self, client: Client) {
        self.client = client;
    }

    /// Start `request` as `turn`.
    pub fn start(&mut self, turn: TurnId, request: Request) {
        tracing::debug!(turn, "turn started");
        let client = self.client.clone();
        self.start_with(turn, request, async move { Ok(client) });
    }

    /// Start `request` as `turn` with the client `client` resolves to (another profile's,
    /// which may first have to run its key command); if it cannot be had, the turn fails
    /// with why.
    pub fn start_with(
        &mut self,
        turn: TurnId,
        request: Request,
        client: impl std::future::Future<Output = Result<Client, String>> + Send + 'static,
    ) {
        self.tasks.retain(|_, h| !h.is_finished());
        let tx = self.tx.clone();
        let handle = tokio::spawn(async move {
            let client = match client.await {
                Ok(c) => c,
                Err(e) => {
                    let result = Err(crate::api::error::ApiError::Key(e));
                    let _ = tx.send(Msg::Done { turn, result });
                    return;
                }
            };
            let stream_tx = tx.clone();
            let mut sink = move |event: StreamEvent| {
                let _ = stream_tx.send(Msg::Stream { turn, event });
            };
            let (result, exchange) = client.send_recorded(&request, &mut sink).await;
            // The record first: `Done` may save the reply, with it.
            let _ = tx.send(Msg::Exchange {
                turn,
                exchange: Box::new(exchange),
            });
            let _ = tx.send(Msg::Done { turn, result });
        });
        self.tasks.insert(turn, handle);
    }

    /// Stop `turn` now: aborting the task drops the response, which closes the connection.
    pub fn cancel(&mut self, turn: TurnId) {
        if let Some(h) = self.tasks.remove(&turn) {
            tracing::info!(turn, "turn cancelled");
            h.abort();
        }
    }

    /// Fetch the model list.
    pub fn fetch_models(&self) {
        let client = self.client.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(Msg::Models(client.models().await));
        });
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        for (_, h) in self.tasks.drain() {
            h.abort();
        }
    }
}
