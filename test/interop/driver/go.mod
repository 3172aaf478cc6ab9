module escheduler.test/interop/driver

go 1.21

require (
	github.com/stonever/escheduler v0.1.59
	go.etcd.io/etcd/client/v3 v3.5.9
)
