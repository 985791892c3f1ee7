package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/openslo"
)

// maxOpenSLOFile bounds each file the openslo subcommands read.
const maxOpenSLOFile = 4 << 20

// RunOpenSLO is `slogate openslo import|export`: it translates between
// OpenSLO v1 documents and slogate's config file (package openslo) and
// writes the result to stdout.
func RunOpenSLO(args []string, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintf(stderr, "slogate openslo: translate between OpenSLO v1 and slogate's config.\n\n"+
			"Usage:\n"+
			"  slogate openslo import [-config FILE] FILE...   OpenSLO SLO, SLI and Service documents to a config on stdout\n"+
			"  slogate openslo export [-config FILE]           the config's objectives and services as OpenSLO on stdout\n")
	}
	if len(args) == 0 || (args[0] != "import" && args[0] != "export") {
		usage()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return errors.New("openslo: want import or export")
	}
	cmd := args[0]
	fs := flag.NewFlagSet("slogate openslo "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "slogate config file; import: its sources and contracts are what the queries may use, and the output is that file with its objectives and services replaced (default: the built-in presets); export: the config to write (default: the built-in one, which has no objectives)")
	fs.Usage = func() {
		usage()
		fmt.Fprintf(stderr, "\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var base *openslo.File
	if *cfgPath != "" {
		f, err := readFile(*cfgPath)
		if err != nil {
			return err
		}
		base = &f
	}
	var out []byte
	var err error
	if cmd == "export" {
		if fs.NArg() > 0 {
			return fmt.Errorf("openslo export: unexpected argument %q", fs.Arg(0))
		}
		cfg := config.DefaultConfig()
		if base != nil {
			if cfg, err = config.ParseConfig(base.Name, base.Data); err != nil {
				return err
			}
		}
		out, err = openslo.Export(cfg)
	} else {
		if fs.NArg() == 0 {
			return errors.New("openslo import: want one or more OpenSLO files")
		}
		var files []openslo.File
		for _, name := range fs.Args() {
			f, err := readFile(name)
			if err != nil {
				return err
			}
			files = append(files, f)
		}
		out, err = openslo.Import(base, files)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}

func readFile(name string) (openslo.File, error) {
	f, err := os.Open(name)
	if err != nil {
		return openslo.File{}, fmt.Errorf("cannot open %s: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxOpenSLOFile+1))
	if err != nil {
		return openslo.File{}, fmt.Errorf("cannot read %s: %w", name, err)
	}
	if len(data) > maxOpenSLOFile {
		return openslo.File{}, fmt.Errorf("cannot read %s: larger than %d bytes", name, maxOpenSLOFile)
	}
	return openslo.File{Name: name, Data: data}, nil
}
