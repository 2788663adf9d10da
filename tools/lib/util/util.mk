# SPDX-License-Identifier: GPL-2.0
#
# The estack helper library, included by selftests/Makefile and
# tools/Makefile: libestack_util.a (64-bit) and libestack_util_32.a (-m32,
# for the 32-bit selftests) in build/lib/util/, next to the including
# Makefile's output directory O. Link a program with $(LIBUTIL) and compile
# it with $(UTIL_INCLUDES).

UTIL_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
UTIL_O ?= $(abspath $(O)/../lib/util)
UTIL_INCLUDES := -I$(UTIL_DIR) -I$(UTIL_DIR)/../../../uapi
UTIL_HDRS := $(UTIL_DIR)/estack_util.h $(UTIL_DIR)/../../../uapi/linux/estack.h
UTIL_SRCS := $(notdir $(wildcard $(UTIL_DIR)/*.c))
UTIL_CFLAGS := -O2 -g -Wall -Werror $(UTIL_INCLUDES)

LIBUTIL := $(UTIL_O)/libestack_util.a
LIBUTIL_32 := $(UTIL_O)/libestack_util_32.a

$(UTIL_O)/64/%.o: $(UTIL_DIR)/%.c $(UTIL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(UTIL_CFLAGS) -c -o $@ $<

$(UTIL_O)/32/%.o: $(UTIL_DIR)/%.c $(UTIL_HDRS)
	@mkdir -p $(@D)
	$(CC) -m32 $(UTIL_CFLAGS) -c -o $@ $<

$(LIBUTIL): $(addprefix $(UTIL_O)/64/,$(UTIL_SRCS:.c=.o))
	rm -f $@ && $(AR) rcs $@ $^

$(LIBUTIL_32): $(addprefix $(UTIL_O)/32/,$(UTIL_SRCS:.c=.o))
	rm -f $@ && $(AR) rcs $@ $^
