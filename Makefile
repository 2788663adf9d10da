# SPDX-License-Identifier: GPL-2.0
#
# estack: build, install and test.
#
#   make                 the module, against KDIR (default: the running kernel)
#   make install         modules_install + depmod
#   make tools           userspace tools (build/tools/)
#   make lib             libestack (build/lib/estack/): .so, .a, .pc
#   make install-lib [PREFIX=/usr/local DESTDIR=]
#                        install libestack, its headers and man pages
#   make selftests       selftests as static binaries (build/selftests/)
#   make deb             Debian packages in build/deb/ (estack-dkms, libestack1,
#                        libestack-dev, estack-tools), lintian clean
#   make deb-check       make deb, then the packages unpacked with dpkg --root,
#                        dkms build for each kernel, estack-demo in the VM;
#                        DEB_CHROOT=1: apt-get install/purge in a chroot too
#   make style           checkpatch --strict on every C file
#   make sparse          sparse (C=2) over the module
#   make docs            Documentation/ as HTML in build/docs/, built by the
#                        kernel's Sphinx setup and kernel-doc (DOCS_SRC);
#                        any warning fails it
#   make demo            the main job: fibers on elastic stacks, in the VM
#   make bench           every benchmark, two VM runs (BENCH_RUNS): benchmarks.rst
#   make bench-profile   perf in the VM on single cases (PROFILE_CASES), or
#                        on the fiber peers (PROFILE_FIBERS="-n N -d D"):
#                        build/results/profile-6.1.txt
#   make vm [CMD=...]    a stock kernel (VM_KERNEL=6.1|6.1-rt|6.12|6.12-rt, default
#                        6.1) in QEMU with the module loaded (VM_MEM in MiB,
#                        VM_CPU the -cpu model, default max; VM_ACCEL
#                        QEMU's accelerator, default tcg)
#   make check           every test; ends with "N passed, N failed"
#   make kunit           the KUnit suites under the kernel's kunit.py, in a
#                        copy of linux-source-6.12 with estack in it (not in
#                        make check: its debug VM runs the same suites)
#   make kselftest       the selftests under the kernel's kselftest runner:
#                        installed from a copy of linux-source-6.1, run with
#                        run_kselftest.sh in the VM (VM_KERNEL, VM_MEM,
#                        KSFT_TESTS= for fewer programs)
#   make soak [SOAK_S=]  the random stress on the debug kernel (default 1 h)
#   make check-rig       proves that make check fails when it should

KREL ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KREL)/build
ESTACK_CACHE ?= /var/cache/estack
LINUX_SRC ?= $(ESTACK_CACHE)/linux-source-6.1
# The Sphinx setup make docs builds with (Documentation/conf.py, sphinx/).
DOCS_SRC ?= $(ESTACK_CACHE)/linux-source-6.12
RIG := $(CURDIR)/tools/rig

KERNEL_C := $(filter-out %.mod.c kmod/compat.h kmod/trace.h,$(wildcard \
	kmod/*.c kmod/*.h kmod/tests/*.c)) uapi/linux/estack.h
USER_C := $(wildcard tools/*.c tools/*.h tools/bench/*.c tools/bench/*.h \
	tools/lib/util/*.c tools/lib/util/*.h selftests/*.c selftests/*.h \
	selftests/rig/*.c tools/lib/estack/*.c tools/lib/estack/*.h \
	tools/lib/estack/tests/*.c tools/lib/estack/tests/*.h \
	tools/lib/estack/examples/*.c)
# libestack's public headers: user space has no BIT().
LIB_H := $(wildcard tools/lib/estack/include/*.h \
	tools/lib/estack/include/estack/*.h)

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf build

install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	depmod -a $(KREL)

deps:
	bash $(RIG)/deps.sh

tools:
	$(MAKE) -C tools

PREFIX ?= /usr/local
DESTDIR ?=

lib:
	$(MAKE) -C tools/lib/estack

install-lib:
	$(MAKE) -C tools/lib/estack install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

deb:
	bash $(RIG)/deb.sh

deb-check: deps
	bash $(RIG)/deb-check.sh

selftests: deps
	$(MAKE) -C selftests LINUX_SRC=$(LINUX_SRC)

style: deps
	perl $(LINUX_SRC)/scripts/checkpatch.pl --no-tree --strict --quiet \
		-f $(KERNEL_C) $(USER_C)
	@# compat.h exists to test LINUX_VERSION_CODE; the rest applies.
	perl $(LINUX_SRC)/scripts/checkpatch.pl --no-tree --strict --quiet \
		--ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f kmod/compat.h
	@# TRACE_EVENT() has its own layout, as in include/trace/events/.
	perl $(LINUX_SRC)/scripts/checkpatch.pl --no-tree --strict --quiet \
		--ignore OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT -f kmod/trace.h
	perl $(LINUX_SRC)/scripts/checkpatch.pl --no-tree --strict --quiet \
		--ignore BIT_MACRO -f $(LIB_H)
	@echo "style: clean"

sparse: deps
	bash $(RIG)/sparse.sh

docs: deps
	python3 $(RIG)/docs.py $(DOCS_SRC) $(CURDIR) $(CURDIR)/build/docs

vm:
	bash $(RIG)/vm-run.sh

demo:
	bash $(RIG)/demo.sh

bench:
	bash tools/bench/run.sh

bench-profile:
	bash tools/bench/profile.sh

check:
	bash $(RIG)/check.sh

check-rig:
	bash $(RIG)/check-rig.sh

kunit: deps
	bash $(RIG)/kunit.sh

kselftest:
	bash $(RIG)/kselftest.sh

soak:
	bash $(RIG)/soak.sh

.PHONY: all modules clean install deps tools lib install-lib selftests style sparse docs vm demo bench \
	bench-profile check check-rig soak kunit kselftest deb deb-check
