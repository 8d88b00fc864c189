#pragma once

// dtt::errc, dtt::error, dtt::result and dtt::status are public: include/dtt/errors.hpp.
#include "dtt/errors.hpp"
