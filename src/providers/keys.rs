//! Several upstream keys per provider: which one a request uses, and taking a failing key out
//! of rotation for a while.
//!
//! Selection is smooth weighted round robin (nginx's algorithm): keys with weights 3 and 1 go
//! `A A B A`, evenly spread rather than in bursts. The state is a few integers behind one
//! short mutex, held for a loop over the keys and never across an await; a provider with one
//! key takes no lock at all.
//!
//! A key the upstream rejects (401/403) sits out `cooldown`; a rate-limited key (429) sits out
//! until its `Retry-After`. When every key is out, the one that comes back soonest is used
//! anyway, so the client gets the upstream's own answer (a 429 with its `Retry-After`, or the
//! credential failure) rather than the gateway refusing on a guess.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::config::{Secret, UpstreamKey};

/// How long a rate-limited key sits out when the upstream sends no `Retry-After`.
pub const DEFAULT_THROTTLE: Duration = Duration::from_secs(5);

/// The keys of one provider and their rotation state.
#[derive(Debug)]
pub struct KeyPool {
    provider: String,
    keys: Box<[UpstreamKey]>,
    /// One slot per key; unused (never locked) when there is only one key.
    slots: Mutex<Vec<Slot>>,
    /// How long a key the upstream rejected (401/403) stays out of rotation.
    cooldown: Duration,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// Smooth weighted round robin's running score.
    current: i64,
    /// Out of rotation until then.
    out_until: Option<Instant>,
}

impl KeyPool {
    /// A pool with every key in rotation; `cooldown` is how long a key the upstream rejected sits
    /// out.
    pub fn new(provider: &str, keys: Vec<UpstreamKey>, cooldown: Duration) -> Self {
        let slots = Mutex::new(vec![Slot::default(); keys.len()]);
        Self { provider: provider.to_owned(), keys: keys.into_boxed_slice(), slots, cooldown }
    }

    /// No keys: a keyless provider, called without credentials; `pick` returns `None`.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key at an index `pick` returned; panics on any other index.
    pub fn secret(&self, index: usize) -> &Secret {
        &self.keys[index].secret
    }

    /// Every key's secret, so error bodies passed through from the upstream can be scrubbed.
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        self.keys.iter().map(|k| &k.secret)
    }

    /// The key for the next request, `None` when the provider has no key.
    pub fn pick(&self, now: Instant) -> Option<usize> {
        match self.keys.len() {
            0 => return None,
            1 => return Some(0),
            _ => {}
        }
        let mut slots = self.slots.lock().expect("key pool lock poisoned");
        let mut total = 0i64;
        let mut best: Option<(usize, i64)> = None;
        for (index, slot) in slots.iter_mut().enumerate() {
            if slot.out_until.is_some_and(|until| until > now) {
                continue;
            }
            slot.out_until = None;
            let weight = i64::from(self.keys[index].weight);
            slot.current += weight;
            total += weight;
            if best.is_none_or(|(_, score)| slot.current > score) {
                best = Some((index, slot.current));
            }
        }
        match best {
            Some((index, _)) => {
                slots[index].current -= total;
                Some(index)
            }
            // All out: the one that returns first.
            None => slots.iter().enumerate().min_by_key(|(_, s)| s.out_until).map(|(index, _)| index),
        }
    }

    /// Whether a key other than `index` is in rotation at `now`, so a request that failed on
    /// `index`'s credentials can be sent again at once with another key.
    pub fn another_in_rotation(&self, index: usize, now: Instant) -> bool {
        if self.keys.len() < 2 {
            return false;
        }
        let slots = self.slots.lock().expect("key pool lock poisoned");
        slots.iter().enumerate().any(|(i, slot)| i != index && slot.out_until.is_none_or(|until| until <= now))
    }

    /// Takes the key out of rotation if the upstream's answer says it cannot be used for now.
    pub fn report(&self, index: usize, status: StatusCode, retry_after: Option<u64>, now: Instant) {
        let pause = match status.as_u16() {
            401 | 403 => self.cooldown,
            429 => retry_after.map_or(DEFAULT_THROTTLE, Duration::from_secs),
            _ => return,
        };
        if self.keys.len() < 2 {
            return;
        }
        let name = &self.keys[index].name;
        tracing::warn!(
            provider = %self.provider,
            key = %name,
            status = status.as_u16(),
            seconds = pause.as_secs(),
            "upstream key out of rotation"
        );
        let mut slots = self.slots.lock().expect("key pool lock poisoned");
        let until = now + pause;
        let slot = &mut slots[index];
        slot.out_until = Some(slot.out_until.map_or(until, |old| old.max(until)));
    }
}

#[cfg(test)]
mod tests;
