package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/slogate/slogate/config"
	"github.com/slogate/slogate/synthetic"
)

// RunSloth runs `slogate sloth rules`: it writes the vmalert rule file
// with Sloth's page and ticket alerts over the -compat.sloth series, named
// and labelled by the -config file's sloth block.
func RunSloth(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("slogate sloth rules", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "slogate's configuration file; its sloth block names the alerts and adds their labels")
	out := fs.String("o", "", "write the rule file here instead of standard output")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "slogate sloth rules: write a vmalert rule file with Sloth's page and ticket alerts\nover the series slogate writes with -compat.sloth.\n\nUsage: slogate sloth rules [-config=slogate.yml] [-o=sloth-alerts.yml]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "rules" {
		fs.Usage()
		if len(args) == 0 {
			return fmt.Errorf("slogate sloth: want the subcommand rules")
		}
		return fmt.Errorf("slogate sloth: unknown subcommand %q; want rules", args[0])
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := config.DefaultConfig()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.LoadConfig(*cfgPath); err != nil {
			return err
		}
	}
	rules := synthetic.SlothRules(synthetic.SlothAlerts{
		Name: cfg.Sloth.AlertName, PageLabels: cfg.Sloth.PageLabels, TicketLabels: cfg.Sloth.TicketLabels,
	})
	if *out == "" {
		_, err := stdout.Write(rules)
		return err
	}
	return os.WriteFile(*out, rules, 0o644)
}
