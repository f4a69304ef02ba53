// Fixture of the layering self-test: core may not include report (an upward include).
#include "core/block.hpp"
#include "report/report.hpp"
