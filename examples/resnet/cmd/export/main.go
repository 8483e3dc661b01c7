// Command export writes demo weights for the ResNet example: a safetensors
// file holding random parameters for every DyConv layer of the model, under
// the names and in the layouts that PyTorch's state dict uses (for example
// layer1.0.conv1.weight [K, Cout, Cin/groups, KH, KW] and
// layer1.0.conv1._coefficient_fn.fc.weight [K·Cout, Cin]). It stands in for
// exporting a trained model from Python:
//
//	safetensors.torch.save_file(model.state_dict(), "weights.safetensors")
//
// Usage:
//
//	go run ./resnet/cmd/export -out weights.safetensors [-seed N]
//	go run ./resnet -weights weights.safetensors
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/dygen/dygen/examples/resnet/model"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "weights.safetensors", "the safetensors `file` to write")
	seed := fs.Uint64("seed", 1, "the random `seed` of the weights")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: export [-out FILE] [-seed N]\n\nexport writes random demo weights for the ResNet example's layers in PyTorch's names and layouts.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "export: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if err := model.WriteDemo(*out, *seed); err != nil {
		fmt.Fprintf(stderr, "export: %v\n", err)
		return 1
	}
	ts := model.DemoTensors(*seed)
	n := 0
	for _, t := range ts {
		n += t.NumElements()
	}
	fmt.Fprintf(stdout, "wrote %s: %d tensors, %d parameters, seed %d\n", *out, len(ts), n, *seed)
	return 0
}
