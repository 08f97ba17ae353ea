//! The clock every engine crate shares (see [`certgate_policy::clock`]).

pub use certgate_policy::clock::{Clock, FixedClock, SystemClock};
