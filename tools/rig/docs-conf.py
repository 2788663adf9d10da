# SPDX-License-Identifier: GPL-2.0
#
# Read by the kernel's Documentation/conf.py (sphinx/load_config.py, which
# takes its path from SPHINX_CONF) after its own settings, when
# tools/rig/docs.py builds estack's pages alone: what differs from a build
# of the whole kernel tree. Everything else is the kernel's.

project = 'estack'
copyright = 'The estack authors'
author = 'The estack authors'
# The kernel's logo is Documentation/images/logo.svg, not in this tree.
html_logo = None
htmlhelp_basename = 'estackdoc'
