DROP TABLE generation_images; DROP TABLE generations; DROP TABLE holds;
