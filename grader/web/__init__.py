"""Server-rendered pages: the student page (/) and the instructor dashboard (/instructor). Both are static
shells that talk to the JSON API with the token the user pasted; no front-end build step."""
