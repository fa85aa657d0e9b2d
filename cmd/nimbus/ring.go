package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

// ringCommand is swift-ring-builder: a builder file per ring, and the ring file
// (NAME.ring.gz beside NAME.builder) each rebalance writes for the servers.
func ringCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "ring", Short: "Object-storage ring builder (like swift-ring-builder)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "create BUILDER PART_POWER REPLICAS",
		Short: "Create a ring builder of 2^PART_POWER partitions",
		Args:  cobra.ExactArgs(3),
		RunE: func(_ *cobra.Command, args []string) error {
			if _, err := os.Stat(args[0]); err == nil {
				return fmt.Errorf("%s exists already", args[0])
			}
			power, err1 := strconv.Atoi(args[1])
			replicas, err2 := strconv.Atoi(args[2])
			if err1 != nil || err2 != nil {
				return fmt.Errorf("PART_POWER and REPLICAS are integers")
			}
			b, err := ring.NewBuilder(power, replicas)
			if err != nil {
				return err
			}
			return b.Save(args[0])
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "add BUILDER r<region>z<zone>-<ip>:<port>/<device>[_<meta>] WEIGHT",
		Short: "Add a device; its partitions arrive at the next rebalance",
		Args:  cobra.ExactArgs(3),
		RunE: func(_ *cobra.Command, args []string) error {
			return editBuilder(args[0], func(b *ring.Builder) error {
				w, err := strconv.ParseFloat(args[2], 64)
				if err != nil {
					return fmt.Errorf("invalid weight %q", args[2])
				}
				d, err := ring.ParseDevice(args[1], w)
				if err != nil {
					return err
				}
				id, err := b.AddDevice(d)
				if err == nil {
					fmt.Printf("Device d%d %s with %v weight got id %d\n", id, args[1], w, id)
				}
				return err
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "remove BUILDER DEVICE_ID",
		Short: "Remove a device; its partitions move at the next rebalance",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			return editBuilder(args[0], func(b *ring.Builder) error {
				id, err := parseDeviceID(args[1])
				if err != nil {
					return err
				}
				return b.RemoveDevice(id)
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "set-weight BUILDER DEVICE_ID WEIGHT",
		Short: "Change a device's weight; partitions move at the next rebalance",
		Args:  cobra.ExactArgs(3),
		RunE: func(_ *cobra.Command, args []string) error {
			return editBuilder(args[0], func(b *ring.Builder) error {
				id, err := parseDeviceID(args[1])
				if err != nil {
					return err
				}
				w, err := strconv.ParseFloat(args[2], 64)
				if err != nil {
					return fmt.Errorf("invalid weight %q", args[2])
				}
				return b.SetWeight(id, w)
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "rebalance BUILDER",
		Short: "Assign partitions by weight and write the ring file beside the builder",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return editBuilder(args[0], func(b *ring.Builder) error {
				moved, err := b.Rebalance()
				if err != nil {
					return err
				}
				out := ringPath(args[0])
				if err := b.WriteRing(out); err != nil {
					return err
				}
				total := b.Parts() * b.Replicas
				fmt.Printf("Reassigned %d (%.2f%%) partition-replicas. Wrote %s\n", moved, 100*float64(moved)/float64(total), out)
				return nil
			})
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "show BUILDER",
		Short: "Show the ring's partitions, replicas and devices",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			b, err := ring.LoadBuilder(args[0])
			if err != nil {
				return err
			}
			held := map[int]int{}
			for _, row := range b.Replica2Part2Dev {
				for _, id := range row {
					held[id]++
				}
			}
			fmt.Printf("%s, build version %d\n%d partitions, %d replicas\n", args[0], b.Version, b.Parts(), b.Replicas)
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "id\tregion\tzone\tip address:port\tname\tweight\tpartitions\tmeta")
			for _, d := range b.Devices {
				if d != nil {
					fmt.Fprintf(tw, "%d\t%d\t%d\t%s:%d\t%s\t%.2f\t%d\t%s\n", d.ID, d.Region, d.Zone, d.IP, d.Port, d.Name, d.Weight, held[d.ID], d.Meta)
				}
			}
			return tw.Flush()
		},
	})
	return cmd
}

func editBuilder(path string, edit func(*ring.Builder) error) error {
	b, err := ring.LoadBuilder(path)
	if err != nil {
		return err
	}
	if err := edit(b); err != nil {
		return err
	}
	return b.Save(path)
}

func parseDeviceID(s string) (int, error) {
	id, err := strconv.Atoi(strings.TrimPrefix(s, "d"))
	if err != nil {
		return 0, fmt.Errorf("invalid device id %q", s)
	}
	return id, nil
}

// ringPath is the ring file of a builder: object.builder → object.ring.gz.
func ringPath(builder string) string {
	return strings.TrimSuffix(builder, ".builder") + ".ring.gz"
}
