-- One local model per tier, so that choosing a model by tier works on a fresh install: the
-- built-in local provider renders them at increasing detail (see api/src/providers/local).
INSERT INTO models (id, name, tier, credits_per_image, sizes, active, created_at) VALUES
    ('scene-sketch', 'Scene Sketch', 'basic', 5000,
     '512x512,1024x1024,1328x1328,1664x928,928x1664,1472x1140,1140x1472', TRUE, '2026-12-03 00:00:00'),
    ('scene-studio', 'Scene Studio', 'standard', 25000,
     '512x512,1024x1024,1328x1328,1664x928,928x1664,1472x1140,1140x1472', TRUE, '2026-12-03 00:00:01'),
    ('scene-vista', 'Scene Vista', 'premium', 100000,
     '512x512,1024x1024,1328x1328,1664x928,928x1664,1472x1140,1140x1472', TRUE, '2026-12-03 00:00:02');
