// descent/bench/families.h: every registered optimizer classified into one
// family, in one table (src/families.cpp).
//
// The quick suite runs one representative per family, so "every family is
// represented" holds by construction. A test (tests/bench) fails when a
// registered optimizer is missing from the table: whoever registers an
// optimizer classifies it there.
#pragma once

#include <string>
#include <vector>

namespace descent::bench {

struct Family {
  std::string id;           // e.g. "adam"
  std::string title;        // e.g. "Adam and its variants"
  std::vector<std::string> members;  // in preference order: the first registered one represents the family
};

// The families in display order.
const std::vector<Family>& families();

// The family id of an optimizer, or "" if the table does not list it.
std::string family_of(const std::string& optimizer);

// The title of a family id ("unclassified" for "").
std::string family_title(const std::string& family_id);

// Registered optimizers the table does not list (should be empty).
std::vector<std::string> unclassified_optimizers();

// The quick suite's optimizers: the first registered member of every family
// with a registered member, then every unclassified registered optimizer.
std::vector<std::string> family_representatives();

// The centre of an optimizer's learning-rate grid: a value from the table for
// optimizers whose default lr is absent or not a training lr (sgd has none),
// otherwise the default lr of its options.
double base_lr(const std::string& optimizer);

}  // namespace descent::bench
