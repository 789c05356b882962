//! The shared client directory: who is connected, at which address, on which
//! event loop. Written by the owning loop on adopt/close, read by handles for
//! `send`, `send_to`, `clients()`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::RwLock;

use crate::event::{Client, ClientId};

#[derive(Debug, Default)]
struct Inner {
    by_id: HashMap<ClientId, (SocketAddr, usize)>,
    by_addr: HashMap<SocketAddr, ClientId>,
}

/// Client directory; an entry exists exactly while the owning loop holds the
/// connection, so `send` after `on_disconnect` reports `NoSuchClient`.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    inner: RwLock<Inner>,
}

impl Registry {
    pub fn insert(&self, client: Client, loop_idx: usize) {
        let mut g = self.inner.write().unwrap_or_else(|p| p.into_inner());
        g.by_id.insert(client.id, (client.addr, loop_idx));
        g.by_addr.insert(client.addr, client.id);
    }

    pub fn remove(&self, client: &Client) {
        let mut g = self.inner.write().unwrap_or_else(|p| p.into_inner());
        g.by_id.remove(&client.id);
        if g.by_addr.get(&client.addr) == Some(&client.id) {
            g.by_addr.remove(&client.addr);
        }
    }

    /// The loop owning `id`.
    pub fn loop_of(&self, id: ClientId) -> Option<usize> {
        let g = self.inner.read().unwrap_or_else(|p| p.into_inner());
        g.by_id.get(&id).map(|&(_, l)| l)
    }

    /// The client connected from `addr` and its loop.
    pub fn by_addr(&self, addr: &SocketAddr) -> Option<(ClientId, usize)> {
        let g = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let id = *g.by_addr.get(addr)?;
        g.by_id.get(&id).map(|&(_, l)| (id, l))
    }

    pub fn get(&self, id: ClientId) -> Option<Client> {
        let g = self.inner.read().unwrap_or_else(|p| p.into_inner());
        g.by_id.get(&id).map(|&(addr, _)| Client { id, addr })
    }

    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .by_id
            .len()
    }

    pub fn all(&self) -> Vec<Client> {
        let g = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<Client> = g
            .by_id
            .iter()
            .map(|(&id, &(addr, _))| Client { id, addr })
            .collect();
        v.sort_unstable_by_key(|c| c.id);
        v
    }
}
