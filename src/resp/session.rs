//! One connection's state: its client id, authentication, consumer and producer accounting.

use super::Shared;
use crate::kafka::consumer::ProxyConsumer;
use crate::kafka::producer::Deliveries;
use std::net::SocketAddr;
use std::sync::Arc;

/// Why CLIENT SETNAME was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SetNameError {
    /// This connection already has a name.
    AlreadySet,
    /// No `group.id:name` colon.
    NoGroup,
    /// Another live connection has this id.
    Taken,
}

/// The state of one client connection.
pub struct Session {
    peer: SocketAddr,
    /// The id registered by CLIENT SETNAME (`<group.id>:<name>`).
    name: Option<String>,
    shared: Arc<Shared>,
    /// Whether AUTH succeeded (or no password is required).
    pub authenticated: bool,
    /// This connection's consumer, created by its first BLPOP.
    pub consumer: Option<ProxyConsumer>,
    /// This connection's share of the producer, created by its first RPUSHX.
    pub deliveries: Option<Arc<Deliveries>>,
}

impl Session {
    /// A new session for a client at `peer`.
    pub fn new(peer: SocketAddr, shared: Arc<Shared>) -> Session {
        Session {
            peer,
            name: None,
            authenticated: shared.options.requirepass.is_none(),
            shared,
            consumer: None,
            deliveries: None,
        }
    }

    /// The shared server state.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The connection's id: its name once set, else the peer address.
    pub fn id(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => self.peer.to_string(),
        }
    }

    /// The group id and client name, once CLIENT SETNAME has run.
    pub fn group_and_name(&self) -> Option<(&str, &str)> {
        self.name.as_deref().and_then(|n| n.split_once(':'))
    }

    /// Registers `name` as this connection's unique id.
    pub fn set_name(&mut self, name: &str) -> Result<(), SetNameError> {
        if self.name.is_some() {
            return Err(SetNameError::AlreadySet);
        }
        if !name.contains(':') {
            return Err(SetNameError::NoGroup);
        }
        let mut ids = self.shared.client_ids.lock().expect("client id lock");
        if !ids.insert(name.to_string()) {
            return Err(SetNameError::Taken);
        }
        self.name = Some(name.to_string());
        Ok(())
    }

    /// The producer accounting of this connection, created on first use.
    pub fn deliveries(&mut self) -> &Arc<Deliveries> {
        self.deliveries.get_or_insert_with(Default::default)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(consumer) = self.consumer.take() {
            consumer.close();
        }
        // The id is free again only after the consumer was handed to its close task, so a
        // client reconnecting with the same id joins after this member started leaving.
        if let Some(name) = self.name.take() {
            self.shared
                .client_ids
                .lock()
                .expect("client id lock")
                .remove(&name);
        }
    }
}
