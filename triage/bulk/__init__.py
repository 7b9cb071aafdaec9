"""Bulk tagging: a hotline team uploads a file of transcripts, the service tags every row in
the background, and the team downloads the tagged file."""
