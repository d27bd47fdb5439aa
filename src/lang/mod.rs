//! The command language, pure: a typed or scripted line → a command,
//! `${NAME}` substitution, payloads over several lines, JSON subset matching
//! for `expect`/`wait`, the LiveView commands, and what tab completion
//! offers.

pub mod clients;
pub mod command;
pub mod error;
pub mod gql;
pub mod live;
pub mod matcher;
pub mod multiline;
pub mod path;
pub mod payload;
pub mod vars;
pub mod vocab;
pub mod watch;
