package filesystem

import "fmt"

// LUKS header (big-endian), versions 1 and 2 share the first fields.
func probeLUKS(p *prober) (*Info, error) {
	h, err := p.readSig("LUKS header", 0, 208)
	if h == nil || err != nil {
		return nil, err
	}
	if string(h[0:6]) != "LUKS\xba\xbe" {
		return nil, nil
	}
	version := be16(h, 6)
	if version != 1 && version != 2 {
		return nil, nil
	}
	info := &Info{Type: TypeLUKS, UUID: cString(h[168:208]), Size: p.size, Used: -1, Version: fmt.Sprint(version), Container: true}
	const s = "LUKS header"
	p.add(s, 0, 6, "magic", "%q", h[0:6])
	p.add(s, 6, 2, "version", "%d", version)
	if version == 1 {
		p.add(s, 8, 32, "cipher name", "%q", cString(h[8:40]))
		p.add(s, 40, 32, "cipher mode", "%q", cString(h[40:72]))
		p.add(s, 72, 32, "hash", "%q", cString(h[72:104]))
		p.add(s, 104, 4, "payload offset", "%d sectors", be32(h, 104))
		p.add(s, 108, 4, "key bytes", "%d", be32(h, 108))
	} else {
		info.Label = cString(h[24:72])
		p.add(s, 8, 8, "header size", "%d", be64(h, 8))
		p.add(s, 16, 8, "sequence ID", "%d", be64(h, 16))
		p.add(s, 24, 48, "label", "%q", info.Label)
		p.add(s, 72, 32, "checksum algorithm", "%q", cString(h[72:104]))
	}
	p.add(s, 168, 40, "UUID", "%q", info.UUID)
	return info, nil
}
