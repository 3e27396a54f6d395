//! Stage 2: turning raw header bytes into the facts detection needs.
//!
//! Everything here is pure and tolerant: any byte sequence parses to *something*, and damage is
//! reported as counted problems, never as a panic or an error that loses the message.

pub mod address;
pub mod date;
pub mod header;
pub mod message;
pub mod text;
