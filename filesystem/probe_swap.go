package filesystem

import "fmt"

// Linux swap: the signature ends the first page, whose size is that of
// the machine that made it; the version 1 header is at offset 1024.
func probeSwap(p *prober) (*Info, error) {
	for page := int64(4096); page <= 65536; page <<= 1 {
		sig, err := p.readSig("swap signature", page-10, 10)
		if sig == nil || err != nil {
			return nil, err
		}
		switch string(sig) {
		case "SWAPSPACE2":
			return swapV1(p, page)
		case "SWAP-SPACE":
			p.add("swap signature", page-10, 10, "signature", "%q", sig)
			return &Info{Type: TypeSwap, Size: p.size, BlockSize: page, Used: -1, Version: "0"}, nil
		}
	}
	return nil, nil
}

func swapV1(p *prober, page int64) (*Info, error) {
	h, err := p.read("swap header", 1024, 44)
	if err != nil {
		return nil, ignoreOutside(err)
	}
	version := le32(h, 0)
	if version != 1 {
		return nil, nil
	}
	last := int64(le32(h, 4))
	info := &Info{
		Type:      TypeSwap,
		Label:     cString(h[28:44]),
		UUID:      uuidString(h[12:28]),
		Size:      (last + 1) * page,
		BlockSize: page,
		Used:      -1,
		Version:   fmt.Sprint(version),
	}
	const s = "swap header"
	p.add(s, 1024, 4, "version", "%d", version)
	p.add(s, 1028, 4, "last page", "%d", last)
	p.add(s, 1032, 4, "bad pages", "%d", le32(h, 8))
	p.add(s, 1036, 16, "UUID", "%s", info.UUID)
	p.add(s, 1052, 16, "label", "%q", info.Label)
	p.add("swap signature", page-10, 10, "signature", "%q", "SWAPSPACE2")
	return info, nil
}
