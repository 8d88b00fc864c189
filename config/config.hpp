#pragma once

// The tracker configuration tree is public: include/dtt/config.hpp.
#include "dtt/config.hpp"
