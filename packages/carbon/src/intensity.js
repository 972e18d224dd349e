"use strict";
/**
 * Grid carbon intensity as every provider reports it. Each point says where it holds (zone), for
 * when (time), where it came from (source) and how it was obtained (kind), so that an
 * accounting built on it can say what it measured and what it guessed.
 */
Object.defineProperty(exports, "__esModule", { value: true });
