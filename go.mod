module github.com/vhdx-inspector/vhdx-inspector

go 1.26.8

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/hack-pad/go-indexeddb v0.3.2 // indirect
	github.com/hack-pad/safejs v0.1.0 // indirect
)
