# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#
# Man pages, included by tools/lib/estack/Makefile. `make install` puts
# man/*.3 (the library's pages and their .so links) in man3 by its own
# rule; estack(4), the page of the device, lives with the module's
# documentation in Documentation/man/ and is installed here, in man4.

install: install-man4

install-man4:
	install -d $(DESTDIR)$(MANDIR)/man4
	install -m 644 $(TOP)/Documentation/man/estack.4 $(DESTDIR)$(MANDIR)/man4/

.PHONY: install-man4
