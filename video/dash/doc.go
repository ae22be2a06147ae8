// Package dash implements MPEG-DASH (ISO/IEC 23009-1, Dynamic Adaptive
// Streaming over HTTP) for the textbook's section 2.6.2: the Media
// Presentation Description (MPD) as a Go model with a writer and a strict
// parser, packaging of a video into a bit-rate ladder of fragmented-MP4
// segments (by driving ffmpeg), a server that streams a package over
// applayer's own HTTP server with an optional throughput trace that shapes
// what it sends, and a player that downloads segments through a
// rate-adaptation rule (package video/abr) with a buffer model and reports
// the quality of experience.
//
// # The MPD subset
//
// Written and read: static presentations ("on demand") and dynamic ones
// ("live", sliding window), Periods of AdaptationSets of Representations,
// segments addressed by SegmentTemplate with @duration and $Number$
// (§5.3.9.4), the live profile (urn:mpeg:dash:profile:isoff-live:2011).
// SegmentTimeline, SegmentList, SegmentBase, xlink and multiple BaseURLs are
// not modelled; the parser refuses an MPD whose segments it could not
// address rather than guess.
//
// The parser is strict and bounded: one MPD element in the DASH namespace,
// nothing after it, xs:duration values of days, hours, minutes and seconds
// only (years and months have no fixed length), unique Representation ids,
// positive bandwidths, template identifiers of §5.3.9.4.4 only, and limits
// on the document's size, Periods, AdaptationSets, Representations and the
// segments a presentation implies (Limits).
package dash
