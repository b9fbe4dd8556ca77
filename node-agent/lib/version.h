/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's version, for `version`, the log and the API client's User-Agent. */
#ifndef SLUICE_AGENT_VERSION_H
#define SLUICE_AGENT_VERSION_H

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.1.0"
#endif

#endif
