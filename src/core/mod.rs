//! The Phoenix Channels protocol on the client's side, pure: no I/O, clock
//! or colour. Nothing here imports from the rest of the crate.

pub mod channel;
pub mod endpoint;
pub mod event;
pub mod live;
pub mod packed;
pub mod presence;
pub mod protocol;
pub mod session;
