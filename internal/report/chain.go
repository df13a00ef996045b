package report

import "github.com/vhdx-inspector/vhdx-inspector/vhdx"

// ChainLayer describes one image of a differencing chain.
type ChainLayer struct {
	Name          string `json:"name"`
	DiskType      string `json:"disk_type"` // "differencing" or "base"
	DataWriteGUID string `json:"data_write_guid"`
	ParentLinkage string `json:"parent_linkage,omitempty"`
	BlockSize     uint32 `json:"block_size"`
}

// Chain describes the layers of a chain, the opened image first.
func Chain(layers []vhdx.Layer) []ChainLayer {
	var out []ChainLayer
	for _, l := range layers {
		m := l.Image.Metadata
		c := ChainLayer{Name: l.Name, DiskType: "base", DataWriteGUID: l.Image.CurrentHeader().DataWriteGUID.String(), BlockSize: m.BlockSize}
		if m.HasParent {
			c.DiskType = "differencing"
			if m.ParentLocator != nil {
				c.ParentLinkage, _ = m.ParentLocator.Get("parent_linkage")
			}
		}
		out = append(out, c)
	}
	return out
}
