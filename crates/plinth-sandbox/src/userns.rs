//! Becoming root of a user namespace when not root, so that an unprivileged user can
//! build images whose maintainer scripts run (mmdebstrap's `unshare` mode). Not written
//! yet: [`crate::Chroot::new`] refuses to run without root.
