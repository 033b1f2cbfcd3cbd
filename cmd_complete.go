package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios"
)

// This file holds what helps a user type commands: shell completion of
// scenario names, runtimes and paths, the scenario files' JSON Schema, and
// the checks of flags that must fail before a run touches anything.

// completeScenario completes a SCENARIO argument: the built-in scenario
// names that match, and scenario files (.yaml, .yml) and directories.
func completeScenario(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	if !strings.ContainsAny(toComplete, "/.") {
		for _, in := range builtinInfos() {
			if strings.HasPrefix(in.Name, toComplete) {
				out = append(out, cobra.CompletionWithDesc(in.Name, in.Description))
			}
		}
	}
	if len(out) > 0 {
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	return []cobra.Completion{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
}

// completeBuiltin completes the name of a built-in scenario.
func completeBuiltin(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, in := range builtinInfos() {
		if strings.HasPrefix(in.Name, toComplete) {
			out = append(out, cobra.CompletionWithDesc(in.Name, in.Description))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func builtinInfos() []scenarios.Info {
	infos, err := scenarios.List()
	if err != nil {
		return nil
	}
	return infos
}

// completeYAMLFiles completes scenario files.
func completeYAMLFiles(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return []cobra.Completion{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
}

// completeRunFlags registers the completion of run's flag values.
func completeRunFlags(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("runtime", cobra.FixedCompletions([]cobra.Completion{
		cobra.CompletionWithDesc("inproc", "everything in this process on loopback"),
		cobra.CompletionWithDesc("docker", "fakes, tasks and sidecars as containers"),
	}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("out", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	})
	for _, f := range []string{"rate", "bake", "time-scale", "endpoint", "xds-addr"} {
		if cmd.Flags().Lookup(f) != nil {
			_ = cmd.RegisterFlagCompletionFunc(f, cobra.NoFileCompletions)
		}
	}
}

// checkOut refuses an --out directory that already holds a run, before
// anything is started or written: its files belong to that run.
func checkOut(out string) error {
	if out == "" {
		return nil
	}
	_, err := os.Stat(filepath.Join(out, rundir.MetaFile))
	switch {
	case err == nil:
		return fmt.Errorf("--out %s already holds a run (%s): give a directory of its own to each run, or leave --out out for a new one under ./meshsim-runs", out, rundir.MetaFile)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return fmt.Errorf("--out %s: %w", out, err)
	}
}

func schemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of scenario files, for editors",
		Long: `Print the JSON Schema (draft 2020-12) of scenario files. Save it and point your editor at
it, for example with yaml-language-server (VS Code's YAML extension, Neovim, Helix):

  meshsim scenarios schema > meshsim-scenario.schema.json
  # first line of a scenario file:
  # yaml-language-server: $schema=./meshsim-scenario.schema.json

The editor then completes field names and flags unknown fields, bad enums and values out of
range. Rules that span fields (weights summing to 100, versions that exist) are checked by
"meshsim scenarios validate", with file:line:col.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := scenarios.JSONSchema()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", data)
			return err
		},
	}
}
