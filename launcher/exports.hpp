// The exports of a saved report: collapsed stacks (flamegraph.pl, inferno, speedscope), massif
// (ms_print, massif-visualizer), speedscope's JSON and pprof's gzipped profile.proto. Each
// renders the whole file into a string. Launcher code: allocates and throws (ExportError).
#pragma once

#include "stacks_by_metric.hpp"

#include <string>
#include <vector>

namespace memtrack::launcher {

// Writes `data` to `output` ("" or "-": stdout). 0, or 2 with one line on stderr.
int write_output(const std::string& output, const std::string& data);

// One line per distinct stack, root first, ';' between frames, one space, a positive integer;
// sorted; equal stacks merged. The values add up to metric_total().
std::string export_collapsed(const md::ReportModel& r, Metric m);

// A stack's frames as collapsed text: root first, each name with ';' and control characters
// replaced, and a name ending in blanks and digits changed so that no parser takes them for a
// value column.
std::vector<std::string> collapsed_frames(const WeightedStack& s);
std::string collapsed_stack(const WeightedStack& s);  // the frames joined with ';'

// massif.out: the header, a snapshot per timeline point (at most 100, the peak kept), the peak
// as heap_tree=peak and the exit as a detailed snapshot, each tree bottom-up.
std::string export_massif(const md::ReportModel& r, const std::string& version);

// speedscope's file format: one sampled profile per metric the report has.
std::string export_speedscope(const md::ReportModel& r, const std::string& version);

// pprof: a gzipped profile.proto with alloc_objects, alloc_space, inuse_objects and
// inuse_space (the sites' shares of the peak).
std::string export_pprof(const md::ReportModel& r, const std::string& version);

}  // namespace memtrack::launcher
