# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#
# The Boost examples, included by tools/lib/estack/Makefile (so `make lib`
# builds them): C++ programs over libestack.a, Boost.Context and
# Boost.Fiber, linked static (libstdc++, glibc and Boost's .a files from
# libboost-context-dev and libboost-fiber-dev) so that the same binaries
# run on the host and in the busybox test VM.
#
#   $(O)/examples/boost-context  boost::context::fiber on estack stacks
#   $(O)/examples/boost-fiber    Boost.Fiber: channel, mutex, two threads
#
# Without Boost's headers they are left out, with a note; make check runs
# them by name and fails then.

CXX ?= g++
BOOST_EXAMPLES := boost-context boost-fiber
BOOST_CXXFLAGS := -O2 -g -std=c++14 -Wall -Wextra -Werror -pthread \
	-I$(CURDIR)/include
BOOST_HAVE := $(shell printf '\#include <boost/context/fiber.hpp>\n\#include <boost/fiber/all.hpp>\n' | \
	$(CXX) -std=c++14 -E -x c++ - >/dev/null 2>&1 && echo y)

ifeq ($(BOOST_HAVE),y)
MK_EXAMPLES += $(addprefix $(O)/examples/,$(BOOST_EXAMPLES))
else
$(info libestack: no Boost.Context/Boost.Fiber headers, Boost examples not built (apt-get install libboost-context-dev libboost-fiber-dev))
endif

BOOST_DEPS := include/estack.h include/estack/boost.hpp $(A)

$(O)/examples/boost-context: examples/boost-context.cpp $(BOOST_DEPS)
	@mkdir -p $(@D)
	$(CXX) $(BOOST_CXXFLAGS) -static -o $@ $< $(A) -lboost_context

$(O)/examples/boost-fiber: examples/boost-fiber.cpp $(BOOST_DEPS)
	@mkdir -p $(@D)
	$(CXX) $(BOOST_CXXFLAGS) -static -o $@ $< $(A) -lboost_fiber \
		-lboost_context
