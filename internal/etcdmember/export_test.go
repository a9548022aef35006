package etcdmember

// Hooks for the external tests (package etcdmember_test).

// SocketDir exposes the choice of the unix socket directory.
var SocketDir = socketDir
